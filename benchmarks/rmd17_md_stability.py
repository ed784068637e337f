"""Benchmark (issue 4): longer MD with the models that ``benchmarks.rmd17_add_oxygen`` adapted (N = 200).

Langevin dynamics at 500 K (0.5 fs steps, friction 0.01/fs) of ethanol and malonaldehyde from the first frame of
their rMD17 test splits, for ``--ps`` picoseconds with each strategy's model trained with each of ``--seeds`` (the
MD's random velocities and noise use the same seed), then 1 ps NVE for the energy drift
(``scisft.potentials.md.stability_run``). Run ``rmd17_add_oxygen`` with the same profile first: this script reuses
its models and caches each result beside them, so strategies can run in separate processes.

    python -m benchmarks.rmd17_md_stability [--profile reduced] [--ps 10] [--strategies gated full ...] [--seeds 0 1]

Results: benchmarks/results/rmd17_md_stability_<profile>_<ps>ps.{json,md}, with every strategy whose run exists.
"""

from __future__ import annotations

import argparse
import json
import time

from benchmarks import rmd17_add_oxygen as add_oxygen
from benchmarks.common import machine, markdown_table, write_results


def changes(result: dict) -> str:
    found = result.get("bond_changes")
    if not found:
        return "-" if result["bonds_intact"] else "(not recorded)"
    return "; ".join([f"+{b}" for b in found["formed"]] + [f"-{b}" for b in found["broken"]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", choices=list(add_oxygen.PROFILES), default="reduced")
    parser.add_argument("--ps", type=float, default=10.0, help="picoseconds of Langevin MD at 500 K")
    parser.add_argument("--strategies", nargs="+", default=list(add_oxygen.STRATEGIES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    args = parser.parse_args()
    if args.profile != "full":
        add_oxygen.WORK = add_oxygen.WORK.with_name(f"rmd17_{args.profile}")
    base = add_oxygen.WORK / "base"
    start = time.perf_counter()
    for seed in args.seeds:
        for strategy in args.strategies:
            if not (add_oxygen.WORK / "runs" / f"{strategy}_n200_s{seed}" / "report.json").exists():
                raise SystemExit(
                    f"no {strategy} run with seed {seed}: run `python -m benchmarks.rmd17_add_oxygen "
                    f"--profile {args.profile}`"
                )
            add_oxygen.md_checks(base, strategy, seed, args.ps)
    md = {}  # every cached run of this length, whichever call made it
    for strategy in add_oxygen.STRATEGIES:
        for cache in sorted((add_oxygen.WORK / "runs").glob(f"{strategy}_n200_s*/md_{args.ps:g}ps.json")):
            md[f"{strategy} {cache.parent.name.rsplit('_s', 1)[1]}"] = json.loads(cache.read_text())
    rows = [
        [
            *run.split(),
            molecule,
            f"{r['picoseconds']:.2f}",
            "yes" if r["bonds_intact"] else "NO",
            f"{r['max_temperature_K']:.0f}",
            f"{r['nve_drift_mev_per_atom_per_ps']:.3f}",
            changes(r),
        ]
        for run, per_molecule in md.items()
        for molecule, r in per_molecule.items()
    ]
    table = markdown_table(
        [
            "strategy (N=200)",
            "seed",
            "molecule",
            "ps survived at 500 K",
            "bonds intact",
            "max T K",
            "NVE drift meV/atom/ps",
            "bonds formed / broken",
        ],
        rows,
    )
    payload = {"machine": machine(), "profile": args.profile, "picoseconds": args.ps, "md": md}
    payload["wall_time_s_this_call"] = time.perf_counter() - start
    text = f"{table}\n\nProfile: {args.profile}, {args.ps:g} ps at 500 K\n\nMachine: {payload['machine']}"
    write_results(f"rmd17_md_stability_{args.profile}_{args.ps:g}ps", payload, text)
    print(text)


if __name__ == "__main__":
    main()
