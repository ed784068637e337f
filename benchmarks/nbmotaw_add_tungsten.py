"""Benchmark (issue 4, periodic): add W to a Mo/Nb/Ta potential trained on the NbMoTaW DFT set (energies, forces,
stress).

Base training data (../shared/data/nbmotaw): Mo, Nb and Ta -- AIMD (every 4th frame), elastic and surface sets --
and the MoTa, NbMo and NbTa special quasirandom structures (every 3rd); validation: every 10th frame of the
remaining AIMD frames. Forgetting: Mo_Test, Nb_Test, Ta_Test, MoTa_Test, NbMo_Test and NbTa_Test (published tests).
New element: W_AIMD, W_Elastic, W_Surface and the MoW/NbW/TaW structures. The published W test files are not in
the shared copy, so 20% of these structures (random, seed 0) are held out as the W test set; N frames for training
are drawn from the rest. Strategies: gated, lora + EWC (λ = 1e5, Fisher from the replay frames), lora + replay,
full fine-tuning, scratch (fresh model on the replay frames -- every 5th base training frame -- and the N frames).
Model: 32 channels, l_max 2, 3 layers, cutoff 5 A; the script says how many structures each set had.
MD stability (full and quick profiles): with each strategy's N = 200 model of the first seed, Langevin dynamics at
500 K (2 fs steps; 2 ps in the full profile) then 1 ps NVE for the energy drift, from the first 54-atom W cell and
the first equiatomic 16-atom binary of the held-out W test set (``md_starts``); "bonds intact": the same first- and
second-neighbour pairs (``scisft.potentials.md.bonds``) throughout, i.e. no diffusion, melting or collapse. Only
2 ps: a step of the 54-atom cell takes about 0.2 s on one core (float64 through the ASE calculator), so the
rMD17 benchmark's 10 ps would take 2 h per model here.

    python -m benchmarks.nbmotaw_add_tungsten [--profile full|reduced|quick] [--strategies gated ...] [--seeds 1]
        [--sizes 200] [--recorded]

``--strategies`` / ``--seeds`` / ``--sizes`` run a share of the runs (to split them across processes, one per
core) and write no table; the call without them reuses those runs and writes it. N = 800 runs the first seed
only unless both ``--seeds`` and ``--sizes`` are given, which run exactly the seeds and sizes named.
``--recorded`` trains nothing: it writes the table and learning curves of the runs recorded so far and leaves the
JSON as it is, while a profile is still being filled in.

The full profile's base is the committed models/monbta-nbmotaw (trained by this script; its card), copied into
the work folder; without it the script trains one.

Training length: a profile's ``epochs`` at N = 200, more at smaller N so that no strategy takes fewer optimizer
steps than at N = 200 (``benchmarks.common.epochs_at``). Profiles (PROFILES below): ``full``: base 40 epochs,
N = 50, 200 and 800 W frames, three seeds (N = 800: the first only, as rMD17's N = 1000), 40 epochs per
addition (many hours on 2 CPU cores); ``reduced``: base 12 epochs (22 min on one core), N = 50 and 200, seeds
0-2, 20 epochs (about 75 min per seed on one core); ``quick``: a smoke test whose numbers mean nothing.

Results: benchmarks/results/nbmotaw_add_tungsten[_<profile>].{json,md,png} (the PNG: learning curves); runs in
benchmarks/work/nbmotaw[_<profile>] (resumable: a run with a report is not run again; a run whose files are gone
but whose result is in the published JSON, made from the same base with the same options and training settings, is
taken from there).
"""

from __future__ import annotations

import argparse
import time
from functools import partial
from pathlib import Path

import numpy as np

from benchmarks.common import (
    ROOT,
    SHARED,
    STRATEGIES,
    add_element_result,
    base_potential,
    epochs_at,
    machine,
    md_checks,
    md_table,
    published,
    record_md,
    record_run,
    require,
    strategy_options,
    strategy_table,
    write_results,
    write_table,
    xyz,
)
from benchmarks.plots import learning_curves
from scisft.potentials import read_structures
from scisft.potentials.add_element import AddElementOptions, add_element

WORK = ROOT / "benchmarks" / "work" / "nbmotaw"
MODEL = {"channels": 32, "num_layers": 3, "l_max": 2, "cutoff": 5.0, "radial_hidden": 64}
BASE_SETS = {"AIMD": 4, "Elastic": 1, "Surface": 1}
MD_TEMPERATURE = 500.0  # K
MD_TIMESTEP_FS = 2.0  # heavy atoms, no H to resolve
PROFILES = {
    "full": {
        "sizes": [50, 200, 800],
        "seeds": [0, 1, 2],
        "base_epochs": 40,
        "epochs": 40,
        "shipped_base": "monbta-nbmotaw",
        "md_ps": 2.0,
    },
    "reduced": {"sizes": [50, 200], "seeds": [0, 1, 2], "base_epochs": 12, "epochs": 20},  # no MD: made before it
    "quick": {"sizes": [100], "seeds": [0], "base_epochs": 2, "epochs": 3, "md_ps": 0.1},
}


def structures(name: str):
    folder = require(SHARED / "nbmotaw")
    path = folder / f"{name}.json"
    return read_structures(path if path.exists() else folder / f"{name}.json.xz")


def prepare(sizes, seed: int = 0) -> tuple[dict[str, Path], dict]:
    base, val, counts = [], [], {}
    for element in ("Mo", "Nb", "Ta"):
        for kind, step in BASE_SETS.items():
            frames = structures(f"{element}_{kind}")
            base += frames[::step]
            if kind == "AIMD":
                val += [f for k, f in enumerate(frames) if k % step and k % 10 == 1]
            counts[f"{element}_{kind}"] = len(frames)
    for pair in ("MoTa", "NbMo", "NbTa"):
        frames = structures(f"{pair}_SS")
        base += frames[::3]
        counts[f"{pair}_SS"] = len(frames)
    old_tests = {
        name: structures(name) for name in ("Mo_Test", "Nb_Test", "Ta_Test", "MoTa_Test", "NbMo_Test", "NbTa_Test")
    }
    w = [f for name in ("W_AIMD", "W_Elastic", "W_Surface", "MoW_SS", "NbW_SS", "TaW_SS") for f in structures(name)]
    order = np.random.default_rng(seed).permutation(len(w))
    n_test = len(w) // 5
    w_test, w_pool = [w[i] for i in order[:n_test]], [w[i] for i in order[n_test:]]
    replay = base[::5]
    files = {
        "base": xyz(WORK / "data" / "base.xyz", base),
        "val": xyz(WORK / "data" / "val.xyz", val),
        "old_test": xyz(WORK / "data" / "old_test.xyz", [f for v in old_tests.values() for f in v]),
        "w_test": xyz(WORK / "data" / "w_test.xyz", w_test),
        "replay": xyz(WORK / "data" / "replay.xyz", replay),
    }
    for n in sizes:
        files[f"w_{n}"] = xyz(WORK / "data" / f"w_{n}.xyz", w_pool[:n])
    counts.update(
        {
            "base training": len(base),
            "base validation": len(val),
            "old test": sum(map(len, old_tests.values())),
            "W pool": len(w_pool),
            "W test": len(w_test),
            "replay": len(replay),
        }
    )
    return files, counts


def run_dir(strategy: str, n: int, seed: int) -> Path:
    """Where the add-element run of ``strategy`` with N W frames and ``seed`` keeps its model, report and caches."""
    return WORK / "runs" / f"{strategy}_n{n}_s{seed}"


def md_starts(w_test: Path) -> dict:
    """MD starting cells from the held-out W test set: its first 54-atom W cell (an AIMD frame) and its first
    equiatomic binary (a 16-atom special quasirandom structure)."""
    test = read_structures(w_test)
    w = next(a for a in test if len(a) == 54 and set(a.get_chemical_symbols()) == {"W"})
    binary = next(a for a in test if len(set(a.numbers)) == 2 and 2 * np.sum(a.numbers == 74) == len(a))
    return {f"W{len(w)}": w, binary.get_chemical_formula(): binary}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", choices=list(PROFILES), default="full")
    parser.add_argument("--strategies", nargs="+", choices=list(STRATEGIES), help="only these (cache only)")
    parser.add_argument("--seeds", nargs="+", type=int, help="only these of the profile's seeds (cache only)")
    parser.add_argument("--sizes", nargs="+", type=int, help="only these of the profile's N (cache only)")
    parser.add_argument(
        "--recorded", action="store_true", help="train nothing: tabulate and plot the runs recorded so far"
    )
    args = parser.parse_args()
    profile = PROFILES[args.profile]
    part = bool(args.strategies or args.seeds or args.sizes)
    suffix = "" if args.profile == "full" else f"_{args.profile}"
    global WORK
    WORK = WORK.with_name(WORK.name + suffix)
    sizes, seeds, base_epochs, epochs = profile["sizes"], profile["seeds"], profile["base_epochs"], profile["epochs"]
    name = "nbmotaw_add_tungsten" + suffix
    if args.recorded:  # the JSON is left as it is: processes beside this one may be adding runs to it
        payload = {**published(name), "profile": {"name": args.profile, **profile}, "counts": prepare(sizes)[1]}
        write_table(name, summarise(payload, sizes, suffix))
        return
    start = time.perf_counter()
    files, counts = prepare(sizes)
    base = base_potential(
        WORK / "base",
        profile.get("shipped_base"),
        files["base"],
        files["val"],
        MODEL,
        {"epochs": base_epochs, "batch_size": 4, "lr": 5e-3, "patience": 15, "progress": False},
    )
    earlier = published(name)

    def chosen(strategy: str, n: int, seed: int) -> bool:
        return (
            strategy in (args.strategies or STRATEGIES)
            and seed in (args.seeds or seeds)
            and n in (args.sizes or sizes)
            and (n <= 200 or seed == seeds[0] or bool(args.seeds and args.sizes))  # both named: exactly those
        )

    results = []
    for n in sizes:
        for strategy in STRATEGIES:
            for seed in seeds:
                if not chosen(strategy, n, seed):
                    continue
                out = run_dir(strategy, n, seed)
                kwargs, uses_replay = strategy_options(strategy)
                replay = [files["replay"]] if uses_replay else None
                n_epochs = epochs_at(strategy, n, epochs, replay_frames=counts["replay"])
                options = AddElementOptions(training={"epochs": n_epochs, "batch_size": 4, "progress": False}, **kwargs)
                entry = add_element_result(
                    earlier,
                    base,
                    out,
                    (strategy, n, seed),
                    options,
                    {"old_test": files["old_test"], "new_test": files["w_test"]},
                    partial(
                        add_element,
                        base,
                        "W",
                        [files[f"w_{n}"]],
                        out,
                        old_validation=[files["old_test"]],
                        replay=replay,
                        options=options,
                        seed=seed,
                    ),
                )
                results.append(entry)
                record_run(name, entry)
                test = entry["test_new"]
                print(
                    f"{strategy:12s} N={n} seed={seed}: W test F MAE {test['force_mae_mev_per_A']:.1f} meV/A, "
                    f"stress MAE {test.get('stress_mae_gpa', float('nan')):.3f} GPa",
                    flush=True,
                )
    md = dict(earlier.get("md", {}))  # MD with the first seed's N = 200 models (published with a reused run)
    md_runs = [  # trained by this call or an earlier one on this machine: the MD needs the model's files
        strategy
        for strategy in STRATEGIES
        if profile.get("md_ps")
        and chosen(strategy, 200, seeds[0])
        and (run_dir(strategy, 200, seeds[0]) / "report.json").exists()
    ]
    starts = md_starts(files["w_test"]) if md_runs else {}
    for strategy in md_runs:
        run = run_dir(strategy, 200, seeds[0])
        md[strategy] = md_checks(
            base, run, strategy, starts, profile["md_ps"], MD_TEMPERATURE, seeds[0], timestep_fs=MD_TIMESTEP_FS
        )
        record_md(name, strategy, md[strategy])
    if part:  # a share of the runs, split across processes: the full call writes the table
        return
    payload = {
        "machine": machine(),
        "profile": {"name": args.profile, **profile},
        "counts": counts,
        "results": results,
        "md": md,
        "wall_time_s_this_call": time.perf_counter() - start,  # cached runs are not redone: see their reports
    }
    md = summarise(payload, sizes, suffix)
    write_results(name, payload, md)
    print(md)


def summarise(payload: dict, sizes, suffix: str) -> str:
    """The results table (markdown) of ``payload``; writes the learning curves beside it."""
    learning_curves(payload, ROOT / "benchmarks" / "results" / f"nbmotaw_add_tungsten{suffix}.png")
    table = strategy_table(payload["results"], sizes, "W", "Mo/Nb/Ta")
    if payload.get("md"):
        table += "\n\n" + md_table(payload["md"], "strategy (N=200, seed 0)", MD_TEMPERATURE)
    machine_line = f"\n\nMachine of this call: {payload['machine']}" if "machine" in payload else ""
    return f"{table}\n\nProfile: {payload['profile']}\n\nData: {payload['counts']}{machine_line}"


if __name__ == "__main__":
    main()
