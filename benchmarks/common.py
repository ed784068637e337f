"""Helpers shared by the benchmark scripts: where data and results live, machine description, tables."""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import platform
import subprocess
from pathlib import Path

import numpy as np
import torch

from scisft.files import atomic_path, write_json

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SCISFT_SHARED_DATA", ROOT.parent / "shared" / "data"))
RESULTS = ROOT / "benchmarks" / "results"


def machine() -> dict:
    """The hardware and software a number was measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {
        "cpu": cpu,
        "cores_used": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    with contextlib.suppress(OSError):
        info["git"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
        ).stdout.strip()
    return info


def wall_minutes(runs: list[dict]) -> str:
    """Mean wall time of result entries in minutes, one mean per CPU and thread count they ran on (runs recorded
    across sessions may come from different machines, whose times do not average), e.g. ``"8.3 (AMD EPYC x1); 14.1
    (Intel Xeon x1)"``; entries from before machines were recorded give a bare mean."""
    by_machine: dict[str, list[float]] = {}
    for r in runs:
        m = r.get("machine")
        where = f"{m['cpu'].replace('(R)', '').replace(' Processor', '')} x{m['cores_used']}" if m else ""
        by_machine.setdefault(where, []).append(r["report"]["wall_time_s"] / 60)
    means = {where: sum(minutes) / len(minutes) for where, minutes in sorted(by_machine.items())}
    return "; ".join(f"{mean:.1f}" + (f" ({where})" if where else "") for where, mean in means.items())


def require(path: Path) -> Path:
    if not path.exists():
        raise SystemExit(f"benchmark data not found: {path} (set SCISFT_SHARED_DATA to the shared data folder)")
    return path


@contextlib.contextmanager
def folder_lock(folder: Path):
    """Hold an exclusive lock on ``folder`` (made if missing) for the block: serialises the benchmark processes
    that run side by side, one per core, where they would make or change the same file in it."""
    folder.mkdir(parents=True, exist_ok=True)
    handle = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)


def xyz(path: Path, structures) -> Path:
    """``path``, an extxyz file of ``structures`` (ASE Atoms), written unless it exists: a benchmark's data split,
    made once per work folder."""
    from ase.io import write

    with folder_lock(path.parent):  # processes side by side on a fresh machine all write the splits first
        if not path.exists():
            with atomic_path(path) as partial:
                write(partial, structures, format="extxyz")
    return path


def base_potential(out: Path, shipped: str | None, data: Path, validation: Path, model: dict, training: dict) -> Path:
    """The base potential of an add-element benchmark in ``out``: a copy of the shipped model named ``shipped``
    (models/<name>, trained by the benchmark and committed, see its card) when there is one, else trained here on
    ``data`` with ``validation`` (``model`` and ``training``: train_potential options)."""
    import shutil

    from scisft.potentials.train import train_potential

    source = ROOT / "models" / str(shipped)
    with folder_lock(out.parent):  # the first of several processes started side by side makes it, the rest wait
        if shipped and (source / "config.json").exists() and not (out / "config.json").exists():
            shutil.copytree(source, out, ignore=shutil.ignore_patterns("*.md", "*.yaml"))
        if not (out / "config.json").exists():
            train_potential([data], out, validation=[validation], options={"model": model, "training": training})
    return out


STRATEGIES = {
    "gated": {"strategy": "gated"},
    "lora+ewc1e5": {"strategy": "lora", "ewc": 1e5, "replay_ratio": 0.0},  # Fisher from the replay frames
    "lora+replay": {"strategy": "lora", "replay": True},
    "full": {"strategy": "full"},
    "scratch": {"strategy": "scratch", "replay": True},
}  # the add-element benchmarks' strategies, by name, in the order their tables list them


def strategy_options(strategy: str) -> tuple[dict, bool]:
    """(``AddElementOptions`` keyword arguments of the benchmark strategy ``strategy``, whether its run reads the
    replay file: for replay, or for EWC's Fisher)."""
    spec = dict(STRATEGIES[strategy])
    return spec, bool(spec.pop("replay", False) or spec.get("ewc"))


def epochs_at(strategy: str, n: int, epochs: int, replay_frames: int, reference_n: int = 200) -> int:
    """Epochs of an add-element run with ``n`` new frames: ``epochs`` at ``reference_n``, more below it so that no
    strategy takes fewer optimizer steps than at ``reference_n`` (30 epochs of 50 frames are too few steps to compare
    strategies). Scratch trains on the ``replay_frames`` + the new frames, so its epochs scale with that sum."""
    scale = (replay_frames + reference_n) / (replay_frames + n) if strategy == "scratch" else reference_n / n
    return max(epochs, round(epochs * scale))


def adapted_model(base: Path, run: Path, strategy: str) -> tuple[Path, Path | None]:
    """(model directory, adapter directory or None) of an add-element run: ``full`` and ``scratch`` write a whole
    model, the other strategies an adapter on ``base``."""
    return (run, None) if strategy in ("full", "scratch") else (base, run)


def new_element_errors(base: Path, run: Path, strategy: str, test_file: Path) -> dict:
    """Errors of an add-element run on ``test_file`` (the run's own report scores its validation data), cached in
    the run's test.json."""
    from scisft.potentials.cli import evaluate_files
    from scisft.potentials.store import load

    cache = run / "test.json"
    if not cache.exists():
        model = load(*adapted_model(base, run, strategy))
        cache.write_text(json.dumps(evaluate_files(model, [test_file])[str(test_file)]))
    return json.loads(cache.read_text())


def base_errors(base: Path, test_file: Path) -> dict:
    """Errors of the base model in ``base`` on ``test_file``, cached in base/old_test.json: the fingerprint by which
    ``published_run`` knows a rebuilt base is the one a published result was made with."""
    from scisft.potentials.cli import evaluate_files
    from scisft.potentials.store import load

    cache = base / "old_test.json"
    if not cache.exists():
        cache.write_text(json.dumps(evaluate_files(load(base), [test_file])[str(test_file)]))
    return json.loads(cache.read_text())


def md_checks(
    base: Path, run: Path, strategy: str, starts: dict, picoseconds: float, temperature: float, seed: int, **md
) -> dict:
    """Stability runs (``scisft.potentials.md.stability_run``, keywords ``md``) from each of ``starts`` (name: ASE
    Atoms) with the model of the add-element ``run`` of ``strategy`` on ``base``: {name: result}, each cached in
    ``run`` as md_<name>_<ps>ps_<K>K.json, with its Langevin frames (every 50 steps, with energies and forces) in
    the .xyz of the same name."""
    from scisft.potentials.md import stability_run

    model_dir, adapter = adapted_model(base, run, strategy)
    result = {}
    for name, atoms in starts.items():
        cache = run / f"md_{name}_{picoseconds:g}ps_{temperature:g}K.json"
        if not cache.exists():
            check = stability_run(
                model_dir,
                atoms,
                adapter=adapter,
                temperature=temperature,
                picoseconds=picoseconds,
                seed=seed,
                trajectory=cache.with_suffix(".xyz"),
                **md,
            )
            cache.write_text(json.dumps(check))
        result[name] = json.loads(cache.read_text())
    return result


def md_table(md: dict, label: str, temperature: float) -> str:
    """Markdown table of ``md`` ({strategy: {structure: ``stability_run`` result}} at ``temperature`` K) in strategy
    order; ``label`` heads the strategy column (which models ran)."""
    rows = []
    for strategy, per_structure in sorted(md.items(), key=lambda item: list(STRATEGIES).index(item[0])):
        for structure, r in per_structure.items():
            rows.append(
                [
                    strategy,
                    structure,
                    f"{r['picoseconds']:.1f}",
                    "yes" if r["bonds_intact"] else "NO",
                    f"{r['max_temperature_K']:.0f}",
                    f"{r['nve_drift_mev_per_atom_per_ps']:.3f}",
                ]
            )
    header = [label, "structure", f"ps at {temperature:g} K", "bonds intact", "max T K", "NVE drift meV/atom/ps"]
    return markdown_table(header, rows)


def published(name: str) -> dict:
    """benchmarks/results/NAME.json as it was when this call started (it is rewritten as runs finish), or {}."""
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def published_run(results: dict, strategy: str, n: int, seed: int, options, base_old: dict) -> dict | None:
    """The entry for (strategy, n, seed) in the published ``results`` (``published``), to stand in for a run
    whose files are gone, or None. Only an entry made from the same base (its report's base errors on the
    old-chemistry set equal ``base_old`` to 1e-3), with the same ``options`` (an ``AddElementOptions``) and the
    same resolved training settings (``TrainConfig``; a field it gained since then counts as its default)
    qualifies; an entry without recorded settings never does. The tolerance: float32 sums in another order (code
    changes, thread counts) moved a rebuilt NbMoTaW base's errors by up to 3e-4, while its retrained runs
    reproduced the published W errors to 1e-5; another base (data, epochs, seed) moves them by percents."""
    import dataclasses

    from scisft.potentials.add_element import training_config
    from scisft.training import TrainConfig

    wanted = {  # through JSON, as the published reports went: tuples become lists
        "options": json.loads(json.dumps(dataclasses.asdict(options))),
        "config": json.loads(json.dumps(dataclasses.asdict(training_config(options, seed)))),
    }
    defaults = json.loads(json.dumps(dataclasses.asdict(TrainConfig())))
    for entry in results.get("results", []):
        report = entry["report"]
        if (entry["strategy"], entry["n"], entry["seed"]) != (strategy, n, seed):
            continue
        old = report["base_metrics"]["old"]
        same_base = old["structures"] == base_old["structures"] and all(
            math.isclose(old[k], base_old[k], rel_tol=1e-3) for k in ("energy_mae_mev", "force_mae_mev_per_A")
        )
        config = report["training"].get("config")  # a field added since the run has its default, the old behaviour
        found = {"options": report["options"], "config": config and {**defaults, **config}}
        if same_base and found == wanted:
            return entry
    return None


def add_element_result(earlier: dict, base: Path, out: Path, key: tuple[str, int, int], options, files, train) -> dict:
    """The result entry (strategy, n, seed, test_new, report) of the add-element run ``key`` = (strategy, n, seed)
    in ``out``: from its cached report, else from the ``earlier`` published results when they hold this very run
    (``published_run``), else made by calling ``train()``. ``files``: the "old_test" and "new_test" paths."""
    strategy, n, seed = key
    if not (out / "report.json").exists():
        entry = published_run(earlier, strategy, n, seed, options, base_errors(base, files["old_test"]))
        if entry is not None:
            return entry
        train()
    report = json.loads((out / "report.json").read_text())
    test = new_element_errors(base, out, strategy, files["new_test"])
    return {"strategy": strategy, "n": n, "seed": seed, "test_new": test, "report": report, "machine": machine()}


@contextlib.contextmanager
def updated_results(name: str):
    """benchmarks/results/NAME.json as a dict (``{}`` when absent) to change in place; written back (whole, by
    rename) on leaving. A lock on the results folder serialises the processes that record runs side by side."""
    with folder_lock(RESULTS):
        payload = published(name)
        yield payload
        write_json(RESULTS / f"{name}.json", payload)


def record_run(name: str, entry: dict) -> None:
    """Add one run's result entry to benchmarks/results/NAME.json as soon as it is made (replacing an entry of the
    same strategy, n and seed). Committed, the entries outlive benchmarks/work: a later session, maybe on a fresh
    machine, takes them from there (``published_run``) instead of training them again."""
    key = (entry["strategy"], entry["n"], entry["seed"])
    with updated_results(name) as payload:
        kept = [r for r in payload.get("results", []) if (r["strategy"], r["n"], r["seed"]) != key]
        payload["results"] = kept + [entry]


def record_md(name: str, strategy: str, checks: dict) -> None:
    """Add the MD stability checks (``md_checks``) of ``strategy``'s model to benchmarks/results/NAME.json under
    "md", as soon as they are made, like ``record_run``."""
    with updated_results(name) as payload:
        payload.setdefault("md", {})[strategy] = checks


def write_results(name: str, payload: dict, markdown: str) -> None:
    """benchmarks/results/NAME.json and NAME.md."""
    write_json(RESULTS / f"{name}.json", payload)
    write_table(name, markdown)


def write_table(name: str, markdown: str) -> None:
    """benchmarks/results/NAME.md."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.md").write_text(markdown + "\n")


def strategy_table(results: list[dict], sizes, element: str, old: str) -> str:
    """Markdown table of add-element result entries: one row per (N, strategy) that has run, with means ± spread
    over its seeds of the ``element`` test errors (stress too where the entries have it) and the mean change of the
    ``old``-chemistry force MAE (forgetting); below it, the runs in which the trainer's divergence guard rolled back
    (runs recorded before the guard existed have no such record)."""
    with_stress = any("stress_mae_gpa" in r["test_new"] for r in results)
    rows = []
    for n in sizes:
        for strategy in STRATEGIES:
            runs = [r for r in results if r["strategy"] == strategy and r["n"] == n]
            if not runs:  # not run (yet)
                continue
            f, e = ([r["test_new"][k] for r in runs] for k in ("force_mae_mev_per_A", "energy_mae_mev_per_atom"))
            forget = [r["report"]["forgetting"]["force_mae_change_mev_per_A"] for r in runs]
            stress = [f"{np.mean([r['test_new']['stress_mae_gpa'] for r in runs]):.3f}"] if with_stress else []
            rows.append(
                [
                    n,
                    strategy,
                    len(runs),
                    f"{np.mean(f):.1f} ± {np.std(f):.1f}",
                    f"{np.mean(e):.2f} ± {np.std(e):.2f}",
                    *stress,
                    f"{np.mean(forget):+.2f}",
                    "yes" if all(r["report"]["forgetting"]["bit_identical"] for r in runs) else "no",
                    f"{100 * runs[0]['report']['trainable']['fraction_of_base']:.1f}%",
                    f"{100 * runs[0]['report']['file_fraction_of_base']:.1f}%",
                    wall_minutes(runs),
                ]
            )
    header = [
        "N new frames",
        "strategy",
        "seeds",
        f"{element} test F MAE meV/Å",
        f"{element} test E MAE meV/atom",
        *([f"{element} test stress MAE GPa"] if with_stress else []),
        f"{old} F MAE change meV/Å",
        "old bit-identical",
        "trainable",
        "file size",
        "min (CPU x threads)",
    ]
    rolled = [
        f"{r['strategy']} N = {r['n']} seed {r['seed']} (after epoch {', '.join(map(str, epochs))})"
        for r in results
        if (epochs := r["report"].get("training", {}).get("rollbacks"))
    ]
    note = f"\n\nThe divergence guard rolled back in: {'; '.join(rolled)}." if rolled else ""
    return markdown_table(header, rows) + note


def markdown_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
