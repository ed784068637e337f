"""Rows of a tidy CSV table that match a condition, written atomically (``scisft data select``)."""

from __future__ import annotations

import os

import pandas as pd

from scisft.errors import DataError
from scisft.files import atomic_path


def select(
    table: str | os.PathLike, where: str, out: str | os.PathLike, rest: str | os.PathLike | None = None
) -> tuple[int, int]:
    """Write the rows of ``table`` for which the pandas query ``where`` holds to ``out`` (and the others to
    ``rest``); returns (rows matched, rows not matched). No file is written if the query fails or matches nothing."""
    try:
        frame = pd.read_csv(table)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot be read as CSV ({exc})", file=table, fix="give a CSV table") from None
    try:
        mask = frame.eval(where)
        if not isinstance(mask, pd.Series) or mask.dtype != bool or len(mask) != len(frame):
            raise ValueError("the condition is not true/false per row")
    except Exception as exc:  # pandas raises many types for a bad expression
        raise DataError(
            f"--where {where!r} cannot be evaluated ({type(exc).__name__}: {exc})",
            file=table,
            fix=f'use the table\'s columns ({", ".join(frame.columns)}), e.g. "{frame.columns[0]} == ..."; '
            "strings in quotes",
        ) from None
    if not mask.any():
        raise DataError(f"no row matches --where {where!r}", file=table, fix="check the condition and the values")
    for rows, path in ((frame[mask], out), (frame[~mask], rest)):
        if path is not None:
            with atomic_path(path) as tmp:
                rows.to_csv(tmp, index=False)
    return int(mask.sum()), int((~mask).sum())
