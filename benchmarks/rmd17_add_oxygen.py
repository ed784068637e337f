"""Benchmark (issue 4): add O to a C/H/N potential trained on rMD17, every strategy, several seeds.

Base: benzene, naphthalene, toluene, azobenzene (C, H, N), frames 0-499 of each rMD17 train split (01); validation
frames 900-999. New: ethanol + malonaldehyde (C, H, O), N = 50, 200, 1000 frames in all (half of each), from
frames 0..N/2-1 of their train splits; validation frames 900-949 of each; test: their full test splits (1000 each).
Forgetting: the first 250 frames of each C/H/N molecule's test split (1000 frames). Replay/EWC data: base train
frames 0-99 of each.
Strategies: gated (zero forgetting), lora + EWC, lora + replay, full fine-tuning, scratch (fresh model on the
replay frames + the new frames). MD stability: 10 ps of Langevin dynamics at 500 K of ethanol and malonaldehyde
with each adapted model (N = 200, seed 0), then 1 ps NVE for the energy drift.

    python -m benchmarks.rmd17_add_oxygen [--profile quick|reduced|full] [--strategies gated full ...] [--seeds 0]
        [--sizes 200] [--recorded]

Training length: a profile's ``epochs`` at N = 200, more at smaller N so that no strategy takes fewer optimizer
steps than at N = 200 (``common.epochs_at``). Profiles (PROFILES below): ``full`` is the benchmark as specified
(production-size base, 500 frames per C/H/N molecule, N = 50/200/1000, three seeds, 10 ps MD); ``reduced`` takes
about 2 h per seed on one core after its 30-minute base (32-channel base on 250 frames per molecule, N = 50/200,
seeds 0-2, 1 ps MD), and about 3 h more for N = 1000; ``quick`` is a smoke test whose numbers mean nothing. Both
``full`` and ``reduced`` run N = 1000 with the first seed only. EWC runs at one strength (λ = 1e5).

Every run writes its own report under benchmarks/work/rmd17[_<profile>] and is skipped when that report exists, so
the script can be stopped and started again. Each run's result (and each MD check) is also added to the published
JSON as soon as it is made; a run whose files are gone but whose result is there, made from the same base with the
same options and training settings, is taken from there with its MD rows and not trained again (a first-seed
N = 200 run whose MD rows are missing is trained again for them): committed, the JSON carries finished runs across
sessions on fresh machines, and after a change to one strategy's defaults only that strategy reruns. The full
profile's base is the committed models/chn-rmd17 (trained by this script, 1.6 h on 2 threads; its card), copied
into the work folder; without it the script trains one.
``--strategies``, ``--seeds`` and ``--sizes`` narrow a call to part of the profile (to use several cores: one
process per part); such a call writes no table, and a call without them writes the results from the cache.
``--recorded`` trains nothing: it writes the table and learning curves of the runs recorded so far (means over the
seeds that have run) and leaves the JSON as it is, while a profile is still being filled in.
Results: benchmarks/results/rmd17_add_oxygen[_<profile>].{json,md,png} (the PNG: learning curves).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

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
from scisft.potentials import read_structures
from scisft.potentials.add_element import AddElementOptions, add_element

WORK = ROOT / "benchmarks" / "work" / "rmd17"  # profiles other than full add _<profile>
OLD = ["benzene", "naphthalene", "toluene", "azobenzene"]
REPLAY_PER_MOLECULE = 100  # base train frames 0-99 of each C/H/N molecule: replay and EWC data
NEW = ["ethanol", "malonaldehyde"]
MODEL = {"channels": 64, "num_layers": 3, "l_max": 2, "cutoff": 5.0, "radial_hidden": 64}
PROFILES = {
    "full": {"channels": 64, "base_frames": 500, "sizes": [50, 200, 1000], "seeds": [0, 1, 2], "epochs": 60,
             "base_epochs": 60, "md_ps": 10.0, "shipped_base": "chn-rmd17"},
    "reduced": {"channels": 32, "base_frames": 250, "sizes": [50, 200, 1000], "seeds": [0, 1, 2], "epochs": 60,
                "base_epochs": 30, "md_ps": 1.0},
    "quick": {"channels": 16, "base_frames": 50, "sizes": [200], "seeds": [0], "epochs": 5, "base_epochs": 3,
              "md_ps": 0.2},
}  # fmt: skip


def frames(name: str, split: str, start: int, stop: int):
    return read_structures(require(SHARED / "rmd17" / f"rmd17_{name}_{split}_01.npz"))[start:stop]


def prepare(sizes, base_frames: int) -> dict[str, Path]:
    files = {
        "base_train": xyz(
            WORK / "data" / "chn_train.xyz", [a for m in OLD for a in frames(m, "train", 0, base_frames)]
        ),
        "base_val": xyz(WORK / "data" / "chn_val.xyz", [a for m in OLD for a in frames(m, "train", 900, 1000)]),
        "old_test": xyz(WORK / "data" / "chn_test.xyz", [a for m in OLD for a in frames(m, "test", 0, 250)]),
        "replay": xyz(
            WORK / "data" / "chn_replay.xyz", [a for m in OLD for a in frames(m, "train", 0, REPLAY_PER_MOLECULE)]
        ),
        "new_val": xyz(WORK / "data" / "cho_val.xyz", [a for m in NEW for a in frames(m, "train", 900, 950)]),
        "new_test": xyz(WORK / "data" / "cho_test.xyz", [a for m in NEW for a in frames(m, "test", 0, 1000)]),
    }
    for n in sizes:
        files[f"new_{n}"] = xyz(WORK / "data" / f"cho_{n}.xyz", [a for m in NEW for a in frames(m, "train", 0, n // 2)])
    return files


def run_dir(strategy: str, n: int, seed: int) -> Path:
    """Where the add-element run of ``strategy`` with N new frames and ``seed`` keeps its model, report and caches."""
    return WORK / "runs" / f"{strategy}_n{n}_s{seed}"


def run(files, base: Path, strategy: str, n: int, seed: int, epochs: int, earlier: dict) -> dict:
    """The result entry of one add-element run (``common.add_element_result``)."""
    out = run_dir(strategy, n, seed)
    spec, uses_replay = strategy_options(strategy)
    replay = [files["replay"]] if uses_replay else None
    options = AddElementOptions(
        training={
            "epochs": epochs_at(strategy, n, epochs, replay_frames=len(OLD) * REPLAY_PER_MOLECULE),
            "progress": False,
        },
        **spec,
    )
    return add_element_result(
        earlier,
        base,
        out,
        (strategy, n, seed),
        options,
        files,
        lambda: add_element(
            base,
            "O",
            [files[f"new_{n}"]],
            out,
            validation=[files["new_val"]],
            old_validation=[files["old_test"]],
            replay=replay,
            options=options,
            seed=seed,
        ),
    )


def production_size() -> dict:
    """Trainable share and adapter file share of the default gated plan for O on the production-size base (MODEL,
    64 channels, C/H/N), untrained: both depend only on the architecture and the plan, not on the data."""
    import tempfile

    from scisft import adapter_parameters, save_adapter
    from scisft.potentials import Potential, PotentialConfig, save_potential
    from scisft.potentials.add_element import adapter_name, element_plan, start_element
    from scisft.potentials.store import MODEL_FILE

    model = Potential(PotentialConfig(elements=["H", "C", "N"], **MODEL))
    base_parameters = sum(p.numel() for p in model.parameters())
    name = adapter_name("O")
    with tempfile.TemporaryDirectory() as tmp:
        save_potential(model, Path(tmp) / "base")
        start_element(model, "O", name, None)
        element_plan(model, "O", AddElementOptions()).apply(model, name)
        save_adapter(model, name, Path(tmp) / "adapter", extra={"kind": "element", "element": "O", "stack": []})
        base_bytes = (Path(tmp) / "base" / MODEL_FILE).stat().st_size
        adapter_bytes = (Path(tmp) / "adapter" / "adapter.safetensors").stat().st_size
    trainable = sum(p.numel() for p in adapter_parameters(model, name).values())
    return {
        "channels": MODEL["channels"],
        "base_parameters": base_parameters,
        "trainable_fraction": trainable / base_parameters,
        "file_fraction": adapter_bytes / base_bytes,
    }


def molecule_md_checks(
    base: Path, strategy: str, seed: int, picoseconds: float, temperature: float = 500.0, molecules=NEW
) -> dict:
    """Stability runs (``common.md_checks``) of each molecule, from its first test frame, with the N = 200 model
    of ``strategy`` and ``seed``."""
    starts = {name: frames(name, "test", 0, 1)[0] for name in molecules}
    return md_checks(base, run_dir(strategy, 200, seed), strategy, starts, picoseconds, temperature, seed)


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
    global WORK
    if args.profile != "full":
        WORK = WORK.with_name(f"rmd17_{args.profile}")
    sizes, seeds, epochs, md_ps = profile["sizes"], profile["seeds"], profile["epochs"], profile["md_ps"]
    name = "rmd17_add_oxygen" + ("" if args.profile == "full" else f"_{args.profile}")
    suffix = name.removeprefix("rmd17_add_oxygen")
    if args.recorded:  # the JSON is left as it is: processes beside this one may be adding runs to it
        payload = {**published(name), "profile": {"name": args.profile, **profile}}
        payload["production_size"] = production_size()
        write_table(name, summarise(payload, sizes, suffix))
        return
    part = bool(args.strategies or args.seeds or args.sizes)
    strategies = [s for s in STRATEGIES if s in (args.strategies or STRATEGIES)]
    seeds = [s for s in seeds if s in (args.seeds or seeds)]
    files = prepare(sizes, profile["base_frames"])
    start = time.perf_counter()
    base = base_potential(
        WORK / "base",
        profile.get("shipped_base"),
        files["base_train"],
        files["base_val"],
        {**MODEL, "channels": profile["channels"]},
        {"epochs": profile["base_epochs"], "batch_size": 8, "lr": 5e-3, "patience": 25, "progress": False},
    )
    base_info = json.loads((base / "config.json").read_text())["info"]
    earlier = published(name)
    results = []
    for seed in seeds:  # one seed at a time, results rewritten after each: a stopped run leaves whole seeds
        for n in sizes if seed == profile["seeds"][0] else [n for n in sizes if n < 1000]:
            if n not in (args.sizes or sizes):
                continue
            for strategy in strategies:
                md_model = seed == profile["seeds"][0] and n == 200 and strategy not in earlier.get("md", {})
                entry = run(files, base, strategy, n, seed, epochs, {} if md_model else earlier)  # MD needs the model
                results.append(entry)
                record_run(name, entry)
                print(
                    f"{strategy:12s} N={n:5d} seed={seed}: O-test F MAE {entry['test_new']['force_mae_mev_per_A']:.1f}"
                    f" meV/A, forgetting {entry['report']['forgetting']['force_mae_change_mev_per_A']:+.2f} meV/A",
                    flush=True,
                )
        if seed == profile["seeds"][0]:  # MD with the first seed's N = 200 models (published with a reused run)
            md = {}
            for s in strategies:
                if 200 in (args.sizes or sizes) and (run_dir(s, 200, seed) / "report.json").exists():
                    md[s] = molecule_md_checks(base, s, seed, md_ps)
                    record_md(name, s, md[s])
                elif s in earlier.get("md", {}):
                    md[s] = earlier["md"][s]
        if part:
            continue
        payload = {
            "machine": machine(),
            "base": base_info,
            "results": results,
            "md": md,
            "wall_time_s_this_call": time.perf_counter() - start,  # cached runs are not redone: see their reports
            "profile": {"name": args.profile, **profile, "seeds_done": seeds[: seeds.index(seed) + 1]},
            "production_size": production_size(),
        }
        write_results(name, payload, summarise(payload, sizes, suffix))


def summarise(payload: dict, sizes, suffix: str) -> str:
    from benchmarks.plots import learning_curves

    table = strategy_table(payload["results"], sizes, "O", "C/H/N")
    md = md_table(payload["md"], "strategy (N=200)", temperature=500.0)
    learning_curves(payload, ROOT / "benchmarks" / "results" / f"rmd17_add_oxygen{suffix}.png")
    size = payload["production_size"]
    production = (
        f"Gated adapter for O at the production size ({size['channels']} channels, {size['base_parameters']} "
        f"parameters): trainable {100 * size['trainable_fraction']:.1f}% of the base, file "
        f"{100 * size['file_fraction']:.1f}% of the base's size."
    )
    machine = f"\n\nMachine of this call: {payload['machine']}" if "machine" in payload else ""
    return f"{table}\n\n{production}\n\n{md}\n\nProfile: {payload['profile']}{machine}"


if __name__ == "__main__":
    main()
