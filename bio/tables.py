"""Affinity tables: one plain format, readers that produce it from published sources, and replicate aggregation.

The format (CSV or TSV), one row per measurement:

    smiles, target_id, species, p_affinity [, measure (pKi/pKd/pIC50/...), source, ligand_id]

``p_affinity`` is -log10 of a molar affinity (pKi 9 = 1 nM). Values outside 0..15 are refused: a column of nanomolar
concentrations (50, 1000, ...) is the usual cause, and the error says how to convert (p = 9 - log10(nM)).
``species`` is lower-cased (human, mouse, rat, ...).

Bad rows: an invalid or empty SMILES, a missing target id or a non-numeric affinity is an error naming the row,
or with ``on_error="skip"`` a counted skip listed in the returned report (never a silent drop). Replicates
(same standardised ligand, target and measure) are aggregated by their median, as GtoPdb curators report ranges.
"""

from __future__ import annotations

import json
import lzma
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from scisft.bio.molecules import standardise
from scisft.errors import DataError

COLUMNS = ["smiles", "target_id", "species", "p_affinity", "measure", "source"]
P_RANGE = (0.0, 15.0)


def table_file(folder: str | os.PathLike, name: str) -> Path:
    """``folder/name`` or its xz-compressed twin ``folder/name.xz``, whichever exists."""
    for candidate in (Path(folder) / name, Path(folder) / f"{name}.xz"):
        if candidate.is_file():
            return candidate
    raise DataError("file not found", file=Path(folder) / name, fix="fetch it: `scisft data fetch gtopdb-2020.5`")


def _read(path: str | os.PathLike, **kwargs) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", file=path)
    sep = "\t" if ".tsv" in path.name or ".tab" in path.name else ","
    try:
        return pd.read_csv(path, sep=sep, low_memory=False, **kwargs)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, lzma.LZMAError, EOFError) as exc:
        raise DataError(f"not a readable table ({exc})", file=path) from None


def validate(frame: pd.DataFrame, path="table", on_error: str = "raise") -> tuple[pd.DataFrame, Counter]:
    """Check and normalise an affinity table (module docstring); returns (table, skipped-row counts by reason)."""
    missing = [c for c in ("smiles", "target_id", "species", "p_affinity") if c not in frame]
    if missing:
        raise DataError("missing column", file=path, field=missing[0], fix=f"the columns are {', '.join(COLUMNS)}")
    skipped: Counter = Counter()
    rows = []
    values = pd.to_numeric(frame["p_affinity"], errors="coerce")
    big = values > P_RANGE[1]
    if big.mean() > 0.5:
        raise DataError(
            f"{int(big.sum())} of {len(frame)} affinities are above {P_RANGE[1]}: these look like concentrations, "
            "not -log10 molar values",
            file=path,
            field="p_affinity",
            fix="convert: p = 9 - log10(value in nM)",
        )
    for k, row in enumerate(frame.itertuples(index=False)):
        problem = None
        try:
            smiles = standardise(row.smiles)
        except DataError as exc:
            smiles, problem = None, ("invalid or empty SMILES", exc.problem)
        target = str(row.target_id).strip() if pd.notna(row.target_id) else ""
        value = values.iloc[k]
        if problem is None and not target:
            problem = ("missing target id", "target_id is empty")
        if problem is None and not np.isfinite(value):
            problem = ("non-numeric affinity", f"p_affinity {row.p_affinity!r} is not a number")
        if problem is None and not P_RANGE[0] <= value <= P_RANGE[1]:
            problem = ("affinity outside 0..15", f"p_affinity {value} is outside {P_RANGE[0]}..{P_RANGE[1]}")
        if problem is not None:
            if on_error == "skip":
                skipped[problem[0]] += 1
                continue
            raise DataError(
                problem[1],
                file=path,
                row=k + 2,
                field="smiles" if "SMILES" in problem[0] else ("target_id" if "target" in problem[0] else "p_affinity"),
            )
        rows.append(
            {
                "smiles": smiles,
                "target_id": target,
                "species": str(row.species).strip().lower(),
                "p_affinity": float(value),
                "measure": str(getattr(row, "measure", "") or "") if "measure" in frame else "",
                "source": str(getattr(row, "source", "") or "") if "source" in frame else "",
            }
        )
    if not rows:
        raise DataError("no usable rows", file=path, fix=f"skipped: {dict(skipped)}")
    return pd.DataFrame(rows, columns=COLUMNS), skipped


def aggregate(table: pd.DataFrame) -> pd.DataFrame:
    """Median p_affinity per (smiles, target_id, species, measure); ``replicates`` counts the rows merged."""
    grouped = table.groupby(["smiles", "target_id", "species", "measure"], as_index=False)
    out = grouped.agg(
        p_affinity=("p_affinity", "median"), replicates=("p_affinity", "size"), source=("source", "first")
    )
    return out[[*COLUMNS, "replicates"]]


def read_affinities(path: str | os.PathLike, on_error: str = "raise") -> tuple[pd.DataFrame, Counter]:
    """Read, validate and aggregate an affinity table."""
    table, skipped = validate(_read(path), path, on_error)
    return aggregate(table), skipped


# -- published sources -------------------------------------------------------------------------------------------

MEASURES = ("pKi", "pKd", "pIC50")


def from_gtopdb(
    folder: str | os.PathLike,
    species: tuple[str, ...] = ("Human", "Mouse", "Rat"),
    measures: tuple[str, ...] = MEASURES,
) -> tuple[pd.DataFrame, Counter]:
    """Guide to Pharmacology download tables -> affinity table (target_id = UniProt accession).

    Rows without a SMILES (peptides, antibodies), without an affinity, with several UniProt ids, or of other
    measures/species are skipped and counted. ``p_affinity`` is GtoPdb's affinity_median, else the mean of its
    affinity_high and affinity_low.
    """
    folder = Path(folder)
    inter = _read(table_file(folder, "interactions.csv"))
    ligands = _read(table_file(folder, "ligands.csv"))[["Ligand id", "SMILES"]]
    skipped: Counter = Counter()
    frame = inter.merge(ligands, left_on="ligand_id", right_on="Ligand id", how="left")
    keep = frame["target_species"].isin(species)
    skipped["other species"] += int((~keep).sum())
    frame = frame[keep]
    keep = frame["affinity_units"].isin(measures)
    skipped["other or no affinity measure"] += int((~keep).sum())
    frame = frame[keep]
    keep = frame["SMILES"].notna()
    skipped["ligand without SMILES"] += int((~keep).sum())
    frame = frame[keep]
    single = frame["target_uniprot"].notna() & ~frame["target_uniprot"].astype(str).str.contains(r"\|")
    skipped["target without exactly one UniProt id"] += int((~single).sum())
    frame = frame[single]
    value = frame["affinity_median"].fillna((frame["affinity_high"] + frame["affinity_low"]) / 2)
    raw = pd.DataFrame(
        {
            "smiles": frame["SMILES"],
            "target_id": frame["target_uniprot"],
            "species": frame["target_species"],
            "p_affinity": value,
            "measure": frame["affinity_units"],
            "source": "GtoPdb 2020.5",
        }
    )
    table, bad = validate(raw.reset_index(drop=True), table_file(folder, "interactions.csv"), on_error="skip")
    return aggregate(table), skipped + bad


def from_deepdta(folder: str | os.PathLike, name: str) -> tuple[pd.DataFrame, dict[str, str], list, list]:
    """DAVIS or KIBA in DeepDTA's packaging -> (table, sequences, train flat indices, test flat indices).

    DAVIS Kd (nM) becomes pKd = 9 - log10(Kd) (DeepDTA's transform); KIBA scores are kept as they are
    (measure 'KIBA'). The fold files index the non-NaN matrix entries in row-major order (drug, protein).
    """
    folder = Path(folder) / name
    drugs = json.loads((folder / "ligands_can.txt").read_text())
    proteins = json.loads((folder / "proteins.txt").read_text())
    matrix_file = next(folder.glob("*affinit*"))
    opener = lzma.open if matrix_file.suffix == ".xz" else open
    with opener(matrix_file, "rt") as handle:
        matrix = np.loadtxt(handle)
    if matrix.shape != (len(drugs), len(proteins)):
        raise DataError(
            f"affinity matrix {matrix.shape} does not fit {len(drugs)} drugs x {len(proteins)} proteins",
            file=matrix_file,
        )
    drug_ids, protein_ids = list(drugs), list(proteins)
    d_idx, p_idx = np.nonzero(~np.isnan(matrix))
    values = matrix[d_idx, p_idx]
    if name.lower() == "davis":
        values, measure = 9.0 - np.log10(values), "pKd"
    else:
        measure = "KIBA"
    table = pd.DataFrame(
        {
            "smiles": [drugs[drug_ids[i]] for i in d_idx],
            "target_id": [protein_ids[j] for j in p_idx],
            "species": "human",
            "p_affinity": values,
            "measure": measure,
            "source": f"{name} (DeepDTA)",
        }
    )
    train = [i for fold in json.loads((folder / "train_fold_setting1.txt").read_text()) for i in fold]
    test = json.loads((folder / "test_fold_setting1.txt").read_text())
    return table, {k: v for k, v in proteins.items()}, train, test


def from_drugcentral(path: str | os.PathLike) -> pd.DataFrame:
    """DrugCentral activities (drug names, no structures): returned with a ``name_only`` flag.

    DrugCentral's file links drugs to structures only through names; joining it to SMILES (e.g. via GtoPdb ligand
    names) is a weak, noisy link. Nothing here pretends otherwise: there is no smiles column.
    """
    frame = _read(path)
    out = pd.DataFrame(
        {
            "drug_name": frame["DRUG_NAME"],
            "target_id": frame["ACCESSION"],
            "species": frame["ORGANISM"].str.lower(),
            "p_affinity": frame["ACT_VALUE"],
            "measure": "p" + frame["ACT_TYPE"].astype(str),
            "source": "DrugCentral 2018",
        }
    )
    out["name_only"] = True
    return out
