"""Fuzz cases for the readers: corruptions of a valid file, and the harness that runs a reader on them.

A reader survives a case if it returns normally or raises one of scisft's own errors (``ScisftError``): anything
else -- a bare ``KeyError``, a numpy or pandas exception, a hang -- is a failure. Used by the tests (a few cases per
reader) and by ``benchmarks/fuzz_readers.py`` (many cases, with a table of survivors).
"""

from __future__ import annotations

import random
import traceback
from collections.abc import Callable
from pathlib import Path

from scisft.errors import ScisftError


def corruptions(valid: bytes, rng: random.Random, count: int) -> list[tuple[str, bytes]]:
    """``count`` damaged versions of ``valid``: truncations, flipped bytes, random bytes, empty, re-encoded text."""
    cases = [("empty", b""), ("latin-1 text", "na\xefve caf\xe9 \xff\xfe".encode("latin-1") * 10)]
    while len(cases) < count:
        kind = rng.choice(["truncate", "flip", "random", "duplicate-tail", "nan"])
        if kind == "truncate" and valid:
            cases.append((kind, valid[: rng.randrange(len(valid))]))
        elif kind == "flip" and valid:
            data = bytearray(valid)
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            cases.append((kind, bytes(data)))
        elif kind == "duplicate-tail" and valid:
            cut = rng.randrange(len(valid))
            cases.append((kind, valid + valid[cut:]))
        elif kind == "nan" and valid:
            text = valid.decode("utf-8", "ignore")
            digits = [i for i, c in enumerate(text) if c.isdigit()]
            if digits:
                i = rng.choice(digits)
                cases.append(
                    (kind, (text[:i] + rng.choice(["nan", "inf", "-inf", "1e999", "abc"]) + text[i + 1 :]).encode())
                )
        else:
            cases.append(("random", bytes(rng.randrange(256) for _ in range(rng.randint(1, 400)))))
    return cases[:count]


def run_cases(
    reader: Callable[[Path], object], valid: bytes, suffix: str, folder: Path, count: int, seed: int = 0
) -> tuple[int, list[str]]:
    """(cases survived, descriptions of failures) for ``reader`` on ``count`` corruptions written to ``folder``."""
    rng = random.Random(seed)
    survived, failures = 0, []
    for k, (kind, data) in enumerate(corruptions(valid, rng, count)):
        path = folder / f"case{k}{suffix}"
        path.write_bytes(data)
        try:
            reader(path)
            survived += 1
        except ScisftError:
            survived += 1
        except Exception as exc:  # noqa: BLE001 -- the point is to catch what should not escape
            failures.append(f"{kind}: {type(exc).__name__}: {exc} @ {traceback.extract_tb(exc.__traceback__)[-1]}")
        finally:
            path.unlink(missing_ok=True)
    return survived, failures
