"""Fuzz every reader with many damaged files (issue 9) and count the cases each survived.

A case is survived when the reader returns normally or raises scisft's own error (a message naming the file); any
other exception is a failure and is listed. Cases: truncations at random points, flipped bytes, random bytes,
numbers replaced by nan/inf/1e999/text, duplicated tails, an empty file and non-UTF-8 text (seed 0).

    python -m benchmarks.fuzz_readers [--cases N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.common import machine, markdown_table, write_results
from tests.reliability.fuzzing import run_cases
from tests.reliability.readers import READERS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=500)
    args = parser.parse_args()
    rows, payload = [], {"machine": machine(), "cases_per_reader": args.cases, "readers": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (reader, suffix, valid) in READERS.items():
            start = time.perf_counter()
            survived, failures = run_cases(reader, valid(), suffix, Path(tmp), args.cases)
            payload["readers"][name] = {"survived": survived, "failures": failures}
            rows.append(
                [
                    name,
                    f"{survived} / {args.cases}",
                    f"{time.perf_counter() - start:.1f}",
                    failures[0][:100] if failures else "-",
                ]
            )
            print(rows[-1], flush=True)
    md = markdown_table(["reader", "cases survived", "seconds", "first failure"], rows)
    write_results("fuzz_readers", payload, md)
    print(md)


if __name__ == "__main__":
    main()
