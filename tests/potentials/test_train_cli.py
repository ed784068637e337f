"""train -> model directory -> load / evaluate / ASE calculator, end to end on a slice of real rMD17 data."""

import json

import numpy as np
import pytest
import yaml
from ase.io import write

from scisft.cli import main
from scisft.potentials import ScisftCalculator, load, read_structures
from scisft.potentials.data import collate, to_graphs
from scisft.potentials.objective import error_metrics
from tests.helpers import shared_data


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pot")
    frames = read_structures(shared_data("rmd17", "rmd17_ethanol_train_01.npz"))
    write(tmp / "train.xyz", frames[:48], format="extxyz")
    write(tmp / "val.xyz", frames[500:516], format="extxyz")
    (tmp / "opts.yaml").write_text(
        yaml.safe_dump(
            {
                "model": {"channels": 8, "num_layers": 2, "radial_hidden": 16, "readout_hidden": 8, "cutoff": 4.0},
                "training": {"epochs": 12, "batch_size": 8, "lr": 0.01, "warmup_steps": 5, "progress": False},
            }
        )
    )
    code = main(
        [
            "potentials",
            "train",
            "--data",
            str(tmp / "train.xyz"),
            "--validation",
            str(tmp / "val.xyz"),
            "--out",
            str(tmp / "model"),
            "--config",
            str(tmp / "opts.yaml"),
            "--seed",
            "1",
        ]
    )
    assert code == 0
    return tmp


def test_training_learns_and_writes_a_loadable_model(trained):
    history = [json.loads(x) for x in (trained / "model" / "training" / "metrics.jsonl").read_text().splitlines()]
    assert len(history) == 12
    assert min(h["val_loss"] for h in history) < 0.5 * history[0]["val_loss"]
    model = load(trained / "model")
    info = json.loads((trained / "model" / "config.json").read_text())
    assert info["model"]["elements"] == ["H", "C", "O"]
    val = to_graphs(read_structures(trained / "val.xyz"), model.config.cutoff)
    metrics = error_metrics(model, val)
    assert metrics["force_mae_mev_per_A"] == pytest.approx(
        info["info"]["metrics"]["validation"]["force_mae_mev_per_A"], rel=1e-4
    )


def test_evaluate_command_json(trained, capsys):
    code = main(
        ["potentials", "evaluate", "--model", str(trained / "model"), "--data", str(trained / "val.xyz"), "--json"]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    metrics = result[str(trained / "val.xyz")]
    assert metrics["structures"] == 16 and 0 < metrics["force_mae_mev_per_A"] < 5000
    assert metrics["force_rmse_mev_per_A"] >= metrics["force_mae_mev_per_A"]


def test_calculator_from_directory_matches_model(trained):
    atoms = read_structures(trained / "val.xyz")[0]
    atoms.calc = ScisftCalculator(trained / "model", dtype="float32")
    energy, forces = atoms.get_potential_energy(), atoms.get_forces()
    model = load(trained / "model")
    out = model(collate(to_graphs([atoms], model.config.cutoff)))
    assert energy == pytest.approx(float(out["energy"][0]), abs=1e-6)
    np.testing.assert_allclose(forces, out["forces"].detach().numpy(), atol=1e-5)


def test_bad_command_line_input_is_one_clear_message(tmp_path, capsys):
    assert main(["potentials", "evaluate", "--model", str(tmp_path / "none"), "--data", "x.xyz"]) == 2
    assert "no such model directory, and no shipped model has that name; shipped: chn-rmd17" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["potentials", "evaluate", "--model", str(tmp_path / "empty"), "--data", "x.xyz"]) == 2
    assert "no model config" in capsys.readouterr().err
    (tmp_path / "o.yaml").write_text("trainig: {}\n")
    assert (
        main(
            [
                "potentials",
                "train",
                "--data",
                "x.xyz",
                "--out",
                str(tmp_path / "m"),
                "--config",
                str(tmp_path / "o.yaml"),
            ]
        )
        == 2
    )
    assert "sections" in capsys.readouterr().err


def test_shipped_models_by_name_and_frame_selection(capsys):
    """`--model chn-rmd17` names a shipped model; FILE@START:STOP picks frames."""
    data = f"{shared_data('rmd17', 'rmd17_toluene_test_01.npz')}@2:10"
    assert main(["potentials", "evaluate", "--model", "chn-rmd17", "--data", data, "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)[data]
    assert metrics["structures"] == 8 and metrics["force_mae_mev_per_A"] < 1000


def test_fine_tuning_from_a_base_starts_where_the_base_is(trained, tmp_path, capsys):
    """`potentials train --base` keeps the architecture and starts from the base's weights."""
    base = load(trained / "model")
    val = to_graphs(read_structures(trained / "val.xyz"), base.config.cutoff)
    before = error_metrics(base, val)["force_mae_mev_per_A"]
    args = ["potentials", "train", "--base", str(trained / "model"), "--data", str(trained / "train.xyz")]
    assert main([*args, "--validation", str(trained / "val.xyz"), "--out", str(tmp_path / "ft"), "--epochs", "2"]) == 0
    tuned = load(tmp_path / "ft")
    assert tuned.config.channels == base.config.channels
    history = [json.loads(x) for x in (tmp_path / "ft" / "training" / "metrics.jsonl").read_text().splitlines()]
    assert history[0]["val_forces_rmse"] * 1000 < 3 * before  # a random start would be far worse
    assert error_metrics(tuned, val)["force_mae_mev_per_A"] <= before * 1.05
    molecule_with_n = read_structures(f"{shared_data('rmd17', 'rmd17_azobenzene_train_01.npz')}@:4")
    write(tmp_path / "azo.xyz", molecule_with_n, format="extxyz")
    assert main([*args[:5], str(tmp_path / "azo.xyz"), "--out", str(tmp_path / "x"), "--epochs", "1"]) == 2
    assert "add a new element with `scisft potentials add-element`" in capsys.readouterr().err
