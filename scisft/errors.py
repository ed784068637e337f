"""The few exception classes scisft raises on purpose.

Every message names where the problem is (file, record, field) and says what would fix it, so a user never
has to read a traceback to find out what went wrong. The command-line entry point prints these messages
without a traceback and exits with status 2.
"""

from __future__ import annotations

import os


class ScisftError(Exception):
    """Base class: a problem the user can fix, with a message that says how."""


class ConfigError(ScisftError):
    """A plan, option or configuration that cannot work (unknown module pattern, bad rank, ...)."""


class CheckpointError(ScisftError):
    """A checkpoint or adapter file that is missing, corrupted, inconsistent or made for another base model."""


class DataError(ScisftError):
    """Bad input data. Built from where the problem is (file, record or table row, field), what it is and what
    would fix it."""

    def __init__(
        self,
        problem: str,
        *,
        file: str | os.PathLike | None = None,
        record: int | str | None = None,
        row: int | None = None,
        field: str | None = None,
        fix: str | None = None,
    ):
        self.file = None if file is None else str(file)
        self.record = record
        self.row = row
        self.field = field
        self.problem = problem
        self.fix = fix
        where = []
        if self.file is not None:
            where.append(self.file)
        if record is not None:
            where.append(f"record {record}")
        if row is not None:
            where.append(f"row {row}")
        if field is not None:
            where.append(f"field '{field}'")
        text = ": ".join([", ".join(where), problem]) if where else problem
        if fix:
            text += f" -- {fix}"
        super().__init__(text)
