"""Protein sequences: FASTA through Biopython, a documented cleaning rule, and residue tokens.

Cleaning rule (every change is counted and reported, nothing is dropped silently):
- letters are upper-cased (lowercase marks e.g. low-complexity regions in some sources);
- gap characters ``-`` and ``.`` (an aligned sequence) are removed, and a terminal stop ``*`` is removed;
- U (selenocysteine) is read as C, O (pyrrolysine) as K, the ambiguity codes B (D/N), Z (E/Q) and J (I/L) as X;
- X (unknown) is kept as its own token;
- any other character (digits, ``*`` inside the sequence, ...) is an error naming the record and position.

Record ids: ``sp|P12345|NAME`` and ``index|P12345|name`` headers give the UniProt accession; otherwise the first
word of the header is the id.
"""

from __future__ import annotations

import lzma
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import torch

from scisft.errors import DataError

STANDARD = "ACDEFGHIKLMNPQRSTVWY"
ALPHABET = STANDARD + "X"  # token 0 is padding, 1..21 the residues
TOKEN = {aa: k + 1 for k, aa in enumerate(ALPHABET)}
SUBSTITUTE = {"U": "C", "O": "K", "B": "X", "Z": "X", "J": "X"}
GAPS = "-."
_ACCESSION = re.compile(r"^([OPQ][0-9][A-Z0-9]{3}[0-9]|[A-NR-Z][0-9]([A-Z][A-Z0-9]{2}[0-9]){1,2})(-\d+)?$")


@dataclass
class CleaningReport:
    """What the cleaning rule changed, per kind of change (counts of residues or records)."""

    changes: Counter = field(default_factory=Counter)

    def __str__(self) -> str:
        return ", ".join(f"{k}: {v}" for k, v in sorted(self.changes.items())) or "no changes"


def record_id(header_id: str) -> str:
    """UniProt accession from a 'db|ACC|name' or 'index|ACC|name' id, else the id itself."""
    for part in header_id.split("|"):
        if _ACCESSION.match(part):
            return part
    return header_id


def clean_sequence(sequence: str, where: str = "sequence", report: CleaningReport | None = None) -> str:
    """Apply the cleaning rule (module docstring) to one sequence."""
    report = report if report is not None else CleaningReport()
    text = "".join(sequence.split())
    if any(c.islower() for c in text):
        report.changes["records upper-cased"] += 1
    text = text.upper()
    gaps = sum(text.count(g) for g in GAPS)
    if gaps:
        report.changes["gap characters removed"] += gaps
        text = text.translate({ord(g): None for g in GAPS})
    if text.endswith("*"):
        report.changes["terminal stops removed"] += 1
        text = text[:-1]
    out = []
    for pos, aa in enumerate(text):
        if aa in SUBSTITUTE:
            report.changes[f"{aa} read as {SUBSTITUTE[aa]}"] += 1
            out.append(SUBSTITUTE[aa])
        elif aa in TOKEN:
            out.append(aa)
        else:
            raise DataError(
                f"character {aa!r} at position {pos + 1} is not an amino-acid letter",
                record=where,
                field="sequence",
                fix="give one-letter amino-acid codes (ACDEFGHIKLMNPQRSTVWY, X)",
            )
    if not out:
        raise DataError("empty sequence", record=where, field="sequence")
    return "".join(out)


def read_fasta(path: str | os.PathLike) -> tuple[dict[str, str], CleaningReport]:
    """Sequences by id (see module docstring) from a FASTA file (``.xz`` allowed), cleaned; and what changed."""
    from Bio import SeqIO

    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", file=path)
    report = CleaningReport()
    sequences: dict[str, str] = {}
    opener = lzma.open if path.suffix == ".xz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            for k, record in enumerate(SeqIO.parse(handle, "fasta")):
                key = record_id(record.id)
                try:
                    seq = clean_sequence(str(record.seq), f"{k + 1} ({record.id})", report)
                except DataError as exc:
                    raise DataError(exc.problem, file=path, record=exc.record, field="sequence", fix=exc.fix) from None
                if key in sequences and sequences[key] != seq:
                    report.changes["duplicate ids with different sequences (first kept)"] += 1
                    continue
                sequences[key] = seq
    except (UnicodeDecodeError, lzma.LZMAError, EOFError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0]
        raise DataError(
            f"not a readable FASTA file ({first_line})", file=path, fix="records start with a '>' header line"
        ) from None
    if not sequences:
        raise DataError("no FASTA records", file=path, fix="records start with a '>' header line")
    return sequences, report


def tokens(sequence: str, max_length: int) -> torch.Tensor:
    """Residue tokens (1..21), truncated to ``max_length``."""
    return torch.tensor([TOKEN[aa] for aa in sequence[:max_length]], dtype=torch.long)


def pad(batch: list[torch.Tensor]) -> torch.Tensor:
    """(B, L) token matrix, right-padded with 0."""
    out = torch.zeros(len(batch), max(len(t) for t in batch), dtype=torch.long)
    for k, t in enumerate(batch):
        out[k, : len(t)] = t
    return out
