"""Human-mouse ortholog pairs (UniProt accessions) and their sequence identity.

Sources, best first: GtoPdb's curated target table (human/mouse SwissProt per pharmacological target); Ensembl
BioMart or HGNC HCOP gene-level tables, mapped to UniProt through GtoPdb's HGNC and MGI symbols; and, when only
sequences are given, reciprocal best hits of global alignments (Biopython's PairwiseAligner, BLOSUM62, gap open
-10, extend -0.5). To keep that affordable, each sequence is aligned only to the ``candidates`` sequences of the
other species with the most shared 3-mers.

Percent identity: identical aligned positions divided by the length of the shorter sequence, times 100.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from scisft.bio.tables import table_file
from scisft.errors import DataError

PAIR_COLUMNS = ["human_id", "mouse_id"]


def _read(path: str | os.PathLike) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", file=path)
    try:
        return pd.read_csv(path, sep="\t" if ".tsv" in path.name else ",", low_memory=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"not a readable table ({exc})", file=path) from None


def from_gtopdb(folder: str | os.PathLike) -> pd.DataFrame:
    """Pairs from GtoPdb's targets_and_families table."""
    targets = _read(table_file(folder, "targets_and_families.csv"))
    pairs = targets[["Human SwissProt", "Mouse SwissProt"]].dropna()
    rows = {
        (h.strip(), m.strip())
        for hs, ms in pairs.itertuples(index=False)
        for h in str(hs).split("|")
        for m in str(ms).split("|")
        if h.strip() and m.strip()
    }
    return pd.DataFrame(sorted(rows), columns=PAIR_COLUMNS)


def from_gene_table(path: str | os.PathLike, gtopdb_folder: str | os.PathLike, one_to_one: bool = True) -> pd.DataFrame:
    """Pairs from an Ensembl BioMart or HCOP human->mouse table, mapped to UniProt through GtoPdb's symbols.

    BioMart rows other than 'ortholog_one2one' are dropped when ``one_to_one`` (the default).
    """
    genes = _read(path)
    for column in ("Gene name", "Mouse gene name"):
        if column not in genes:
            raise DataError(
                "missing column", file=path, field=column, fix="give a BioMart or HCOP human_to_mouse table"
            )
    if one_to_one and "Mouse homology type" in genes:
        genes = genes[genes["Mouse homology type"] == "ortholog_one2one"]
    targets = _read(table_file(gtopdb_folder, "targets_and_families.csv"))
    human = {s: a for s, a in targets[["HGNC symbol", "Human SwissProt"]].dropna().itertuples(index=False)}
    mouse = {s: a for s, a in targets[["MGI symbol", "Mouse SwissProt"]].dropna().itertuples(index=False)}
    rows = {
        (human[h], mouse[m])
        for h, m in genes[["Gene name", "Mouse gene name"]].dropna().itertuples(index=False)
        if h in human and m in mouse
    }
    return pd.DataFrame(sorted(rows), columns=PAIR_COLUMNS)


def read_pairs(path: str | os.PathLike) -> pd.DataFrame:
    """A user's ortholog table: columns human_id, mouse_id [, identity (percent)]. An empty identity means unknown
    (``scisft bio orthologs`` leaves it empty where a sequence is missing); the ortholog term then weighs the pair
    1. Text or numbers outside 0..100 are refused with their row."""
    table = _read(path)
    for column in PAIR_COLUMNS:
        if column not in table:
            raise DataError("missing column", file=path, field=column, fix="columns: human_id, mouse_id[, identity]")
    table = table.dropna(subset=PAIR_COLUMNS).astype({"human_id": str, "mouse_id": str}).reset_index(drop=True)
    if "identity" in table:
        values = pd.to_numeric(table["identity"], errors="coerce")
        bad = (values.isna() & table["identity"].notna()) | (values < 0) | (values > 100)
        if bad.any():
            row = int(bad.idxmax())
            raise DataError(
                f"identity {table['identity'][row]!r} is not a percentage 0..100",
                file=path,
                row=row + 2,
                field="identity",
                fix="give percent identity, or leave it empty where unknown",
            )
        table["identity"] = values
    return table


def _aligner():
    from Bio import Align
    from Bio.Align import substitution_matrices

    aligner = Align.PairwiseAligner(mode="global", open_gap_score=-10.0, extend_gap_score=-0.5)
    aligner.substitution_matrix = substitution_matrices.load("BLOSUM62")
    aligner.end_gap_score = 0.0  # no penalty for the ends: orthologs may differ by an extension
    return aligner


def identity(a: str, b: str, aligner=None) -> float:
    """Percent identity of a global alignment over the shorter sequence."""
    aligner = aligner or _aligner()
    alignment = aligner.align(a, b)[0]
    matches = sum(sum(x == y for x, y in zip(a[s0:e0], b[s1:e1])) for (s0, e0), (s1, e1) in zip(*alignment.aligned))
    return 100.0 * matches / min(len(a), len(b))


def add_identity(pairs: pd.DataFrame, human: dict[str, str], mouse: dict[str, str]) -> pd.DataFrame:
    """Add (or recompute) the identity column for pairs whose two sequences are known (others: NaN)."""
    aligner = _aligner()
    out = pairs.copy()
    out["identity"] = [
        identity(human[h], mouse[m], aligner) if h in human and m in mouse else float("nan")
        for h, m in out[PAIR_COLUMNS].itertuples(index=False)
    ]
    return out


def _kmers(seq: str, k: int = 3) -> set[str]:
    return {seq[i : i + k] for i in range(len(seq) - k + 1)}


def _best(query: str, pool: dict[str, str], pool_kmers: dict[str, set], candidates: int, aligner) -> tuple[str, float]:
    q = _kmers(query)
    shortlist = sorted(pool, key=lambda k: -len(q & pool_kmers[k]))[:candidates]
    scores = {k: aligner.score(query, pool[k]) for k in shortlist}
    best = max(scores, key=scores.get)
    return best, scores[best]


def reciprocal_best_hits(
    human: dict[str, str], mouse: dict[str, str], candidates: int = 10, restrict: Iterable[str] | None = None
) -> pd.DataFrame:
    """Pairs whose sequences are each other's best global-alignment hit; with percent identity.

    ``restrict``: only look for partners of these mouse ids (all by default).
    """
    if not human or not mouse:
        raise DataError("reciprocal best hits need human and mouse sequences")
    aligner = _aligner()
    human_kmers = {k: _kmers(v) for k, v in human.items()}
    mouse_kmers = {k: _kmers(v) for k, v in mouse.items()}
    rows = []
    for m in restrict or mouse:
        if m not in mouse:
            continue
        h, _ = _best(mouse[m], human, human_kmers, candidates, aligner)
        back, _ = _best(human[h], mouse, mouse_kmers, candidates, aligner)
        if back == m:
            rows.append((h, m, identity(human[h], mouse[m], aligner)))
    return pd.DataFrame(rows, columns=[*PAIR_COLUMNS, "identity"])
