"""Transfer: the ortholog term, frozen parts, species gating, save/load, and the commands on real data."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from scisft import adapter_parameters, load_adapter, remove
from scisft.bio.data import AffinityData, split_by_target
from scisft.bio.metrics import affinity_metrics
from scisft.bio.model import AffinityConfig, AffinityModel
from scisft.bio.orthologs import from_gtopdb
from scisft.bio.sequences import read_fasta
from scisft.bio.store import save_model
from scisft.bio.tables import from_gtopdb as table_from_gtopdb
from scisft.bio.train import (
    TransferOptions,
    anchor_override,
    ortholog_penalty,
    predict,
    transfer,
    transfer_plan,
)
from scisft.cli import main
from scisft.errors import ConfigError, DataError
from tests.helpers import shared_data

TINY = AffinityConfig(
    hidden=16, drug_layers=1, protein_embedding=8, protein_channels=(8, 8, 8), kernel=5, max_length=200, head_hidden=16
)
SEQ = {
    "H1": "MKTAYIAKQRQISFVKSHFSRQ",
    "M1": "MKTAYIAKQRQISFVKSHFSRE",
    "H2": "GSHMLEDPVDAFQLIRAQEGNA",
    "M2": "GSHMLEDPVDAFKLIRSQEGNA",
}
TABLE = pd.DataFrame(
    {
        "smiles": ["CCO", "c1ccccc1O", "CCN", "CCO", "c1ccccc1O", "CCCl"],
        "target_id": ["H1", "H1", "H2", "M1", "M2", "M2"],
        "species": ["human", "human", "human", "mouse", "mouse", "mouse"],
        "p_affinity": [6.0, 7.0, 5.5, 6.2, 7.5, 5.0],
    }
)


def model_and_data():
    torch.manual_seed(0)
    model = AffinityModel(TINY)
    data = AffinityData(TABLE, SEQ, TINY)
    return model, data


def test_ortholog_term_is_zero_when_representations_match_and_grows_otherwise():
    z = torch.randn(4)
    targets = {"M1": (z, 0.9)}
    assert float(ortholog_penalty(torch.stack([z, z + 10]), ["M1", "other"], targets, margin=0.1)) == 0.0
    assert float(ortholog_penalty(torch.stack([z * 1.05]), ["M1"], targets, margin=0.1)) == 0.0  # within margin
    far = float(ortholog_penalty(torch.stack([z + 3.0]), ["M1"], targets, margin=0.1))
    nearer = float(ortholog_penalty(torch.stack([z + 1.0]), ["M1"], targets, margin=0.1))
    assert far > nearer > 0


def test_gated_transfer_keeps_human_bit_identical_and_frozen_parts_untouched(tmp_path):
    model, data = model_and_data()
    human = AffinityData(TABLE[TABLE.species == "human"], SEQ, TINY)
    before_human = predict(model, human)
    frozen = {k: v.clone() for k, v in model.state_dict().items()}
    pairs = pd.DataFrame({"human_id": ["H1", "H2"], "mouse_id": ["M1", "M2"], "identity": [95.0, 86.0]})
    mouse = TABLE[TABLE.species == "mouse"].reset_index(drop=True)
    model, summary = transfer(
        model, mouse, SEQ, tmp_path / "a", TransferOptions(), pairs, epochs=15, batch_size=3, lr=0.01
    )
    assert summary["ortholog_targets"] == 2 and summary["trainable"]["fraction"] < 0.5
    for k, v in frozen.items():
        assert torch.equal(model.state_dict()[k], v), k
    np.testing.assert_array_equal(predict(model, human), before_human)
    after_mouse = predict(model, AffinityData(mouse, SEQ, TINY))
    fresh = AffinityModel(TINY)
    fresh.load_state_dict(frozen)
    assert not np.allclose(after_mouse, predict(fresh, AffinityData(mouse, SEQ, TINY)))
    load_adapter(fresh, tmp_path / "a")
    np.testing.assert_allclose(predict(fresh, AffinityData(mouse, SEQ, TINY)), after_mouse, atol=1e-6)


def test_ungated_plan_changes_human_too():
    model, _ = model_and_data()
    human = AffinityData(TABLE[TABLE.species == "human"], SEQ, TINY)
    before = predict(model, human)
    transfer_plan(TransferOptions(gated=False)).apply(model, "x")
    with torch.no_grad():
        for p in adapter_parameters(model, "x").values():
            p.add_(0.5)
    assert not np.allclose(predict(model, human), before)


def test_unknown_targets_and_species_are_refused():
    with pytest.raises(DataError, match="have no sequence: M1"):
        AffinityData(TABLE, {k: v for k, v in SEQ.items() if k != "M1"}, TINY)
    skipped = AffinityData(TABLE, {k: v for k, v in SEQ.items() if k != "M1"}, TINY, on_missing="skip")
    assert skipped.skipped["rows whose target has no sequence"] == 1 and len(skipped) == 5
    with pytest.raises(DataError, match="species"):
        AffinityData(TABLE.assign(species="zebrafish"), SEQ, TINY)


def test_pretrain_transfer_evaluate_commands_on_gtopdb(tmp_path, capsys):
    folder = shared_data("dti", "gtopdb_2020_5")
    table, _ = table_from_gtopdb(folder)
    sequences, _ = read_fasta(shared_data("dti", "sequences", "CD_prot_seq.fas.xz"))
    pairs = from_gtopdb(folder)
    mouse = table[(table.species == "mouse") & table.target_id.isin(sequences)]
    mouse = mouse[mouse.target_id.isin(pairs.mouse_id)]
    human = table[(table.species == "human") & table.target_id.isin(pairs.human_id)].iloc[:400]
    adapt, test = split_by_target(mouse, 0.3, seed=0)
    for name, frame in (("human", human), ("adapt", adapt.iloc[:150]), ("test", test.iloc[:60])):
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
    used = set(human.target_id) | set(adapt.target_id) | set(test.target_id) | set(pairs.human_id)
    (tmp_path / "s.fasta").write_text("".join(f">{k}\n{v}\n" for k, v in sequences.items() if k in used))
    pairs.to_csv(tmp_path / "o.csv", index=False)
    assert (
        main(
            [
                "bio",
                "pretrain",
                "--data",
                str(tmp_path / "human.csv"),
                "--sequences",
                str(tmp_path / "s.fasta"),
                "--out",
                str(tmp_path / "base"),
                "--epochs",
                "2",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "bio",
                "transfer",
                "--base",
                str(tmp_path / "base"),
                "--data",
                str(tmp_path / "adapt.csv"),
                "--sequences",
                str(tmp_path / "s.fasta"),
                "--orthologs",
                str(tmp_path / "o.csv"),
                "--out",
                str(tmp_path / "mouse"),
                "--epochs",
                "2",
            ]
        )
        == 0
    )
    report = json.loads((tmp_path / "mouse" / "report.json").read_text())
    assert report["ortholog_targets"] > 0 and report["trainable"]["fraction"] <= 0.10
    capsys.readouterr()
    assert (
        main(
            [
                "bio",
                "evaluate",
                "--model",
                str(tmp_path / "base"),
                "--adapter",
                str(tmp_path / "mouse"),
                "--data",
                str(tmp_path / "test.csv"),
                "--sequences",
                str(tmp_path / "s.fasta"),
                "--json",
            ]
        )
        == 0
    )
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["pairs"] > 0 and np.isfinite(metrics["rmse"]) and 0 <= metrics["ci"] <= 1


def test_ortholog_anchor_starts_at_the_ortholog_baseline_and_needs_the_table_to_predict(tmp_path, capsys):
    model, _ = model_and_data()
    pairs = pd.DataFrame({"human_id": ["H1"], "mouse_id": ["M1"], "identity": [95.0]})
    mouse = TABLE[TABLE.species == "mouse"].reset_index(drop=True)
    override = anchor_override(mouse, SEQ, pairs)
    assert override == {"M1": (SEQ["H1"], "mouse")}  # M2 has no ortholog in the table: its own sequence
    via_human = AffinityData(mouse, SEQ, TINY, sequence_override=anchor_override(mouse, SEQ, pairs, "human"))
    anchored = AffinityData(mouse, SEQ, TINY, sequence_override=override)
    transfer_plan(TransferOptions(anchor="ortholog")).apply(model, "untrained")
    np.testing.assert_array_equal(predict(model, anchored), predict(model, via_human))
    remove(model, "untrained")

    save_model(model, tmp_path / "base")
    model, summary = transfer(
        model, mouse, SEQ, tmp_path / "a", TransferOptions(anchor="ortholog"), pairs, epochs=10, batch_size=3, lr=0.01
    )
    assert summary["anchored_targets"] == 1
    mouse.to_csv(tmp_path / "mouse.csv", index=False)
    (tmp_path / "s.fasta").write_text("".join(f">{k}\n{v}\n" for k, v in SEQ.items()))
    pairs.to_csv(tmp_path / "o.csv", index=False)
    command = ["bio", "evaluate", "--model", str(tmp_path / "base"), "--adapter", str(tmp_path / "a")]
    command += ["--data", str(tmp_path / "mouse.csv"), "--sequences", str(tmp_path / "s.fasta"), "--json"]
    assert main(command) == 2
    assert "transferred with --anchor ortholog; give --orthologs" in capsys.readouterr().err
    assert main([*command, "--orthologs", str(tmp_path / "o.csv")]) == 0
    expected = affinity_metrics(anchored.y.numpy(), predict(model, anchored))
    assert json.loads(capsys.readouterr().out)["rmse"] == pytest.approx(expected["rmse"], abs=1e-5)
    with pytest.raises(ConfigError, match="ortholog anchor is for adapters"):
        TransferOptions(method="full", anchor="ortholog")
