"""``scisft demo``: each capability on real data, with a report and figures. Exits non-zero if a part that could
run failed (a part whose data is missing is skipped, and the report says how to get the data)."""

from __future__ import annotations

import argparse
from pathlib import Path

from scisft.demo import parts
from scisft.demo.report import summary_table, write_report

PARTS = ("potentials", "bio", "materials")


def register(subparsers) -> None:
    cmd = subparsers.add_parser("demo", help="run every capability on real data and write a report")
    cmd.add_argument("--out", default="scisft-demo", help="report folder (default: ./scisft-demo)")
    cmd.add_argument("--quick", action="store_true", help="smaller, faster runs (for CI)")
    cmd.add_argument("--data-dir", help="folder with the published data (e.g. ../shared/data) or a fetched set")
    cmd.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    cmd.add_argument("--seed", type=int, default=0)
    cmd.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    results = {}
    for name in args.parts:
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        extra = () if name == "potentials" else (args.data_dir,)
        print(f"[{name}] running ...", flush=True)
        results[name] = parts.run_part(name, getattr(parts, name), folder, args.quick, args.seed, *extra)
        for fig in results[name].get("figures", []):
            (out / fig).unlink(missing_ok=True)
            (out / fig).symlink_to(Path(name) / fig)
        print(f"[{name}] {results[name]['status']}", flush=True)
    report = write_report(out, results, args.quick)
    print(summary_table(results))
    print(f"report: {report}")
    return 1 if any(r["status"] == "failed" for r in results.values()) else 0
