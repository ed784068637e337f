"""Benchmark (issue 36): how long the full ``scisft demo`` takes on this machine, idle and with cores kept busy.

Runs ``scisft demo --data-dir <shared data>`` from scratch (a fresh output folder) as a new user would, with 0, 1 or
all cores kept busy by other processes (Python busy loops), and records the wall time of the whole command and of
each part (from the report). The demo's target: under 10 minutes on 2 cores with one of them busy.

    python -m benchmarks.demo_time [--busy 0 1] [--quick]

Results: benchmarks/results/demo_time.{json,md} (a state measured again replaces its row).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import RESULTS, SHARED, machine, markdown_table, write_results
from benchmarks.threads_under_load import busy


def run_demo(n_busy: int, quick: bool) -> dict:
    """One demo from scratch with ``n_busy`` cores kept busy: total and per-part seconds, threads chosen."""
    out = Path(tempfile.mkdtemp(prefix="scisft-demo-"))
    spinners = busy(n_busy)
    time.sleep(1.0)
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    command = [Path(sys.executable).parent / "scisft", "demo", "--data-dir", str(SHARED), "--out", str(out / "d")]
    start = time.perf_counter()
    try:
        done = subprocess.run(
            [*map(str, command), *(["--quick"] if quick else [])], env=env, capture_output=True, text=True
        )
    finally:
        for p in spinners:
            p.kill()
    total = time.perf_counter() - start
    report = json.loads((out / "d" / "report.json").read_text())
    threads = [line for line in done.stderr.splitlines() + done.stdout.splitlines() if "thread" in line]
    shutil.rmtree(out, ignore_errors=True)
    return {
        "busy_cores": n_busy,
        "quick": quick,
        "exit_code": done.returncode,
        "total_s": total,
        "parts_s": {name: part["seconds"] for name, part in report["parts"].items()},
        "status": {name: part["status"] for name, part in report["parts"].items()},
        "threads": threads,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--busy", type=int, nargs="+", default=[0, 1], help="cores kept busy, one run per value")
    parser.add_argument("--quick", action="store_true", help="time `scisft demo --quick` instead")
    args = parser.parse_args()
    for n in args.busy:
        record({**run_demo(n, args.quick), "machine": machine()})


def record(run: dict) -> None:
    """Add one run to the results (replacing an earlier run of the same state) and rewrite the table; called after
    each run, so an interrupted benchmark keeps what it measured."""
    print(json.dumps(run), flush=True)
    path = RESULTS / "demo_time.json"
    payload = json.loads(path.read_text()) if path.is_file() else {"runs": []}
    key = (run["busy_cores"], run["quick"])
    payload["runs"] = [r for r in payload["runs"] if (r["busy_cores"], r["quick"]) != key] + [run]
    rows = [
        [
            "quick" if r["quick"] else "full",
            r["busy_cores"],
            f"{r['total_s'] / 60:.1f}",
            ", ".join(f"{k} {v:.0f}" for k, v in r["parts_s"].items()),
            "ok" if r["exit_code"] == 0 else f"exit {r['exit_code']}",
            f"{r['machine']['cpu']}, git {r['machine'].get('git', '?')}",
        ]
        for r in sorted(payload["runs"], key=lambda r: (r["quick"], r["busy_cores"]))
    ]
    markdown = markdown_table(["demo", "cores kept busy", "minutes", "parts (s)", "result", "machine"], rows)
    write_results("demo_time", payload, markdown)
    print(markdown)


if __name__ == "__main__":
    main()
