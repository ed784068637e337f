"""``scisft demo``: each capability on real data, with a report and figures. Exits non-zero if a part that could
run failed (a part whose data is missing is skipped, and the report says how to get the data); a ``--data-dir``
that does not exist is an error before anything runs. Run again after an interruption, it resumes where the
training stopped, and the report counts the time of every run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

PARTS = ("potentials", "bio", "materials")
INTRO = {
    "potentials": "adding oxygen to the shipped C/H/N potential (a line per epoch below)",
    "bio": "moving a human drug-target affinity model to mouse (a line per epoch below)",
    "materials": "fitting a rubber law at 20 C and adapting it to 50 C (about a minute)",
}


def register(subparsers) -> None:
    cmd = subparsers.add_parser("demo", help="run every capability on real data and write a report")
    cmd.add_argument("--out", default="scisft-demo", help="report folder")
    cmd.add_argument("--quick", action="store_true", help="smaller, faster runs (about 2 minutes; what CI runs)")
    cmd.add_argument(
        "--data-dir",
        help="folder with the published data (e.g. ../shared/data) or a fetched set; without it the potentials "
        "part runs on the project's own data and the others say how to get theirs",
    )
    cmd.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS), help="which parts to run")
    cmd.add_argument("--seed", type=int, default=0, help="random seed of every part")
    cmd.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from scisft.demo import parts
    from scisft.demo.report import summary_table, write_report
    from scisft.errors import DataError
    from scisft.threads import apply_thread_rule

    if args.data_dir is not None and not Path(args.data_dir).is_dir():
        raise DataError(
            "--data-dir: no such folder",
            file=args.data_dir,
            fix="give the folder that holds the published data (e.g. ../shared/data), or leave --data-dir out",
        )
    out = Path(args.out)
    results = {}
    for number, name in enumerate(args.parts, 1):
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        extra = () if name == "potentials" else (args.data_dir,)
        threads = apply_thread_rule(args.threads) if number > 1 else ""  # the command chose for the first part
        print(f"[{name}] part {number} of {len(args.parts)}: {INTRO[name]}{'; ' + threads if threads else ''}")
        sys.stdout.flush()
        results[name] = parts.run_part(name, getattr(parts, name), folder, args.quick, args.seed, *extra)
        for fig in results[name].get("figures", []):
            (out / fig).unlink(missing_ok=True)
            (out / fig).symlink_to(Path(name) / fig)
        done = results[name]
        print(
            f"[{name}] {done['status']} in {done['seconds']:.0f} s{': ' + done['message'] if 'message' in done else ''}"
        )
        sys.stdout.flush()
    report = write_report(out, results, args.quick)
    print(summary_table(results))
    print(f"report: {report}")
    return 1 if any(r["status"] == "failed" for r in results.values()) else 0
