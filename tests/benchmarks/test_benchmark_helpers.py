"""Helpers of the benchmark scripts whose mistakes would silently skew published numbers."""

import dataclasses
import json

import numpy as np
from ase import Atoms
from ase.neighborlist import neighbor_list

from benchmarks.common import md_checks, published_run, strategy_table, wall_minutes
from benchmarks.rmd17_vs_mace import mace_epoch_seconds
from benchmarks.speed_vs_mace import SPACING, ethanol_box
from scisft.potentials.add_element import AddElementOptions, training_config

ETHANOL = Atoms(
    "C2OH6",
    positions=[
        [-0.75, 0.0, 0.0],
        [0.75, 0.0, 0.0],
        [1.2, 1.3, 0.0],
        [-1.1, -1.0, 0.3],
        [-1.1, 0.5, 0.9],
        [-1.1, 0.5, -0.9],
        [1.1, -0.5, 0.9],
        [1.1, -0.5, -0.9],
        [2.1, 1.3, 0.0],
    ],
)


def test_ethanol_box_tiles_whole_molecules_at_liquid_density():
    box = ethanol_box(ETHANOL, 3)
    assert len(box) == 27 * 9 and box.pbc.all()
    np.testing.assert_allclose(box.cell.lengths(), [3 * SPACING] * 3)
    assert 0.08 < len(box) / box.get_volume() < 0.12  # atoms per A^3, liquid ethanol ~0.093
    first, second = neighbor_list("ij", box, 1.6)
    molecule_of = np.arange(len(box)) // 9
    assert len(first) and np.all(molecule_of[first] == molecule_of[second])  # no contact between molecules/images


def test_mace_epoch_seconds_counts_training_epochs_only(tmp_path):
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "run_run-1.log").write_text(
        "2026-12-03 07:09:00.000 INFO: Loading data\n"
        "2026-12-03 07:09:03.000 INFO: Initial: head: Default, loss=12.9\n"
        "2026-12-03 07:09:43.000 INFO: Epoch 0: head: Default, loss=0.25\n"
        "2026-12-03 07:10:23.000 INFO: Epoch 1: head: Default, loss=0.20\n"
        "2026-12-03 07:11:03.000 INFO: Epoch 2: head: Default, loss=0.18\n"
        "2026-12-03 07:12:30.000 INFO: Done\n"
    )
    assert mace_epoch_seconds(tmp_path) == 40.0


def test_published_run_is_reused_only_for_the_same_base_options_and_settings():
    options = AddElementOptions(strategy="lora", training={"epochs": 240})
    base_old = {"structures": 1000, "energy_mae_mev": 11.6166, "force_mae_mev_per_A": 34.5604}
    report = {
        "options": dataclasses.asdict(options),
        "training": {"config": dataclasses.asdict(training_config(options, seed=1))},
        "base_metrics": {"old": {**base_old, "energy_mae_mev": 11.6128}},  # float32 sums in another order
    }
    entry = {"strategy": "lora+replay", "n": 50, "seed": 1, "report": report, "test_new": {}}
    results = json.loads(json.dumps({"results": [entry]}))  # as read back from the published file

    assert published_run(results, "lora+replay", 50, 1, options, base_old) == results["results"][0]
    assert published_run(results, "lora+replay", 50, 2, options, base_old) is None  # another seed
    other_lr = AddElementOptions(strategy="lora", training={"epochs": 240, "lr": 0.04})
    assert published_run(results, "lora+replay", 50, 1, other_lr, base_old) is None
    assert published_run(results, "lora+replay", 50, 1, options, {**base_old, "force_mae_mev_per_A": 35.0}) is None
    del results["results"][0]["report"]["training"]["config"]["device"]  # a run from before TrainConfig had it
    assert published_run(results, "lora+replay", 50, 1, options, base_old) == results["results"][0]
    del results["results"][0]["report"]["training"]["config"]  # made before the settings were recorded
    assert published_run(results, "lora+replay", 50, 1, options, base_old) is None


def test_recorded_runs_from_processes_side_by_side_all_reach_the_published_file(tmp_path, monkeypatch):
    import multiprocessing

    from benchmarks import common

    monkeypatch.setattr(common, "RESULTS", tmp_path)
    entries = [
        {"strategy": s, "n": n, "seed": 0, "test_new": {"force_mae_mev_per_A": n}} for s in "ab" for n in range(8)
    ]
    with multiprocessing.get_context("fork").Pool(4) as pool:
        pool.starmap(common.record_run, [("demo", e) for e in entries])
    common.record_run("demo", {**entries[0], "test_new": {"force_mae_mev_per_A": -1}})  # the same run, made again

    recorded = common.published("demo")["results"]
    assert sorted((r["strategy"], r["n"]) for r in recorded) == sorted((e["strategy"], e["n"]) for e in entries)
    assert [r["test_new"] for r in recorded if (r["strategy"], r["n"]) == ("a", 0)] == [{"force_mae_mev_per_A": -1}]
    assert [p.name for p in tmp_path.iterdir()] == ["demo.json"]  # no lock or partial file left behind


def test_wall_minutes_averages_per_machine_and_names_each():
    def entry(seconds, cpu, cores):
        return {"report": {"wall_time_s": seconds}, "machine": {"cpu": cpu, "cores_used": cores}}

    runs = [entry(600, "Intel(R) Xeon(R) Processor", 2), entry(1200, "AMD EPYC", 1), entry(900, "AMD EPYC", 1)]
    assert wall_minutes(runs) == "17.5 (AMD EPYC x1); 10.0 (Intel Xeon x2)"
    assert wall_minutes([{"report": {"wall_time_s": 90}}]) == "1.5"  # entries from before machines were recorded


def test_table_of_recorded_runs_averages_over_seeds_and_skips_what_has_not_run(tmp_path, monkeypatch):
    from benchmarks import rmd17_add_oxygen

    def entry(strategy, n, seed, force_mae):
        report = {
            "forgetting": {"force_mae_change_mev_per_A": 0.0 if strategy == "gated" else 500.0, "bit_identical": True},
            "trainable": {"fraction_of_base": 0.045},
            "file_fraction_of_base": 0.049,
            "wall_time_s": 600.0,
        }
        test = {"force_mae_mev_per_A": force_mae, "energy_mae_mev_per_atom": 2.0}
        return {"strategy": strategy, "n": n, "seed": seed, "test_new": test, "report": report}

    payload = {  # recorded out of order; nothing at N = 1000, no full fine-tuning at N = 200
        "results": [entry("full", 50, 0, 90.0), entry("gated", 50, 1, 100.0), entry("gated", 50, 0, 96.0)]
        + [entry("gated", 200, 0, 60.0)],
        "md": {},
        "profile": {"name": "full"},
        "production_size": {"channels": 64, "base_parameters": 9, "trainable_fraction": 0.04, "file_fraction": 0.05},
    }
    monkeypatch.setattr(rmd17_add_oxygen, "ROOT", tmp_path)
    rows = rmd17_add_oxygen.summarise(payload, [50, 200, 1000], "_test").splitlines()
    runs = [line.split(" | ")[:4] for line in rows if line.startswith("| 50 ") or line.startswith("| 200 ")]
    assert runs == [
        ["| 50", "gated", "2", "98.0 ± 2.0"],
        ["| 50", "full", "1", "90.0 ± 0.0"],
        ["| 200", "gated", "1", "60.0 ± 0.0"],
    ]
    assert (tmp_path / "benchmarks" / "results" / "rmd17_add_oxygen_test.png").exists()
    assert "stress" not in rows[0]  # molecules: no stress column
    for k, r in enumerate(payload["results"]):  # periodic runs: a stress column, averaged like the others
        r["test_new"]["stress_mae_gpa"] = 0.1 * (k + 1)
    table = strategy_table(payload["results"], [50], "W", "Mo/Nb/Ta").splitlines()
    assert "W test stress MAE GPa" in table[0] and "Mo/Nb/Ta F MAE change" in table[0]
    assert table[2].split(" | ")[:6] == ["| 50", "gated", "2", "98.0 ± 2.0", "2.00 ± 0.00", "0.250"]
    assert "rolled back" not in "\n".join(table)
    payload["results"][1]["report"]["training"] = {"rollbacks": [4, 9]}  # the divergence guard acted in this run
    assert strategy_table(payload["results"], [50], "W", "Mo/Nb/Ta").endswith(
        "The divergence guard rolled back in: gated N = 50 seed 1 (after epoch 4, 9)."
    )


def test_base_potential_copies_the_shipped_model_and_trains_only_without_one(tmp_path, monkeypatch):
    from benchmarks import common
    from scisft.potentials import train

    trained = []
    monkeypatch.setattr(train, "train_potential", lambda data, out, **kw: trained.append((data, out, kw)))
    copied = common.base_potential(tmp_path / "copy", "chn-rmd17", tmp_path / "d.xyz", tmp_path / "v.xyz", {}, {})
    shipped = common.ROOT / "models" / "chn-rmd17"
    assert (copied / "model.safetensors").read_bytes() == (shipped / "model.safetensors").read_bytes()
    assert not (copied / "card.md").exists() and not trained
    common.base_potential(
        tmp_path / "new", None, tmp_path / "d.xyz", tmp_path / "v.xyz", {"channels": 8}, {"epochs": 1}
    )
    assert trained == [
        (
            [tmp_path / "d.xyz"],
            tmp_path / "new",
            {"validation": [tmp_path / "v.xyz"], "options": {"model": {"channels": 8}, "training": {"epochs": 1}}},
        )
    ]


def test_processes_started_side_by_side_make_the_base_and_data_once(tmp_path, monkeypatch):
    import shutil
    import threading
    import time

    from ase import Atoms

    from benchmarks import common

    real_copytree, copies = shutil.copytree, []

    def slow_copytree(*args, **kwargs):  # widens the window in which a second process finds no base yet
        copies.append(args[1])
        time.sleep(0.3)
        return real_copytree(*args, **kwargs)

    monkeypatch.setattr(shutil, "copytree", slow_copytree)
    frames = [Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]]) for _ in range(3)]
    errors, start = [], threading.Barrier(2)

    def benchmark_process():
        try:
            start.wait()
            common.xyz(tmp_path / "data" / "split.xyz", frames)
            common.base_potential(tmp_path / "base", "chn-rmd17", tmp_path / "d.xyz", tmp_path / "v.xyz", {}, {})
        except Exception as error:  # noqa: BLE001 -- a thread's exception must reach the test
            errors.append(error)

    threads = [threading.Thread(target=benchmark_process) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and copies == [tmp_path / "base"]
    assert (tmp_path / "base" / "config.json").exists()
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["split.xyz"]  # no partial file left behind


def test_md_checks_run_each_start_once_and_read_the_cache_after(tmp_path, monkeypatch):
    import scisft.potentials.md

    calls = []

    def fake_run(model_dir, atoms, adapter, temperature, picoseconds, seed, trajectory, **md):
        calls.append((model_dir, adapter, len(atoms), md))
        return {"picoseconds": picoseconds, "bonds_intact": True, "max_temperature_K": temperature}

    monkeypatch.setattr(scisft.potentials.md, "stability_run", fake_run)
    run = tmp_path / "run"
    run.mkdir()
    first = md_checks(tmp_path / "base", run, "gated", {"ethanol": ETHANOL}, 2.0, 500.0, 0, timestep_fs=2.0)
    again = md_checks(tmp_path / "base", run, "gated", {"ethanol": ETHANOL}, 2.0, 500.0, 0, timestep_fs=2.0)
    assert first == again == {"ethanol": {"picoseconds": 2.0, "bonds_intact": True, "max_temperature_K": 500.0}}
    assert calls == [(tmp_path / "base", run, 9, {"timestep_fs": 2.0})]  # gated: the run is an adapter on the base
    assert (run / "md_ethanol_2ps_500K.json").exists()
