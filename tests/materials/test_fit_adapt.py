"""Fitting and adapting on real data (Treloar rubber, hot-compression steel), the CLI, torch-fem, flow baselines."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from scisft.cli import main
from scisft.materials import load
from scisft.materials.fem import uniaxial_block
from scisft.materials.fitting import adapt, evaluate, fit_flow, fit_law, score
from scisft.materials.flow import FlowConfig, FlowStress, HanselSpittel, JohnsonCook
from scisft.materials.kinematics import compressible_stress
from scisft.materials.tables import from_cann_rubber, from_gleeble
from tests.helpers import shared_data
from tests.materials.test_law import random_energy


@pytest.fixture(scope="module")
def treloar():
    table, _ = from_cann_rubber(shared_data("rubber", "rubber_multiT.csv"))
    return table[table.temperature_K < 300].reset_index(drop=True), table[table.temperature_K > 300].reset_index(
        drop=True
    )


def test_fit_then_adapt_to_50C_with_the_modulation_only(treloar, tmp_path):
    t20, t50 = treloar
    energy = fit_law(t20, epochs=400)
    fitted = evaluate(energy, t20)
    assert min(r["r2"] for r in fitted) > 0.97, fitted
    unchanged = evaluate(energy, t50)[0]["r2"]
    report = adapt(energy, t50[t50.stretch <= 4.0].reset_index(drop=True), "T323K", replay=t20, epochs=300)
    assert report["fraction"] <= 0.10
    adapted = evaluate(energy, t50)[0]["r2"]
    assert adapted > unchanged + 0.02
    kept = evaluate(energy, t20)
    for before, after in zip(fitted, kept):
        assert after["r2"] > before["r2"] - 0.01


def test_command_line_fit_adapt_evaluate_plot(treloar, tmp_path, capsys):
    t20, t50 = treloar
    t20.to_csv(tmp_path / "t20.csv", index=False)
    t50.to_csv(tmp_path / "t50.csv", index=False)
    assert (
        main(
            ["materials", "fit", "--data", str(tmp_path / "t20.csv"), "--out", str(tmp_path / "law"), "--epochs", "300"]
        )
        == 0
    )
    assert (
        main(
            [
                "materials",
                "adapt",
                "--base",
                str(tmp_path / "law"),
                "--data",
                str(tmp_path / "t50.csv"),
                "--out",
                str(tmp_path / "a50"),
                "--epochs",
                "200",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert (
        main(
            [
                "materials",
                "evaluate",
                "--model",
                str(tmp_path / "law"),
                "--adapter",
                str(tmp_path / "a50"),
                "--data",
                str(tmp_path / "t50.csv"),
                "--json",
            ]
        )
        == 0
    )
    scores = json.loads(capsys.readouterr().out)
    assert scores[0]["mode"] == "UT" and scores[0]["r2"] > 0.9
    assert (
        main(
            [
                "materials",
                "plot",
                "--model",
                str(tmp_path / "law"),
                "--adapter",
                str(tmp_path / "a50"),
                "--data",
                str(tmp_path / "t20.csv"),
                str(tmp_path / "t50.csv"),
                "--out",
                str(tmp_path / "c.png"),
            ]
        )
        == 0
    )
    assert (tmp_path / "c.png").stat().st_size > 10_000
    law = load(tmp_path / "law", tmp_path / "a50")
    F = torch.diag(torch.tensor([2.0, 0.5**0.5, 0.5**0.5], dtype=torch.float64))
    assert float(law.stress(F, 323.15)[0, 0]) > float(load(tmp_path / "law").stress(F, 323.15)[0, 0])
    with pytest.raises(SystemExit):
        main(
            [
                "materials",
                "adapt",
                "--base",
                str(tmp_path / "law"),
                "--data",
                str(tmp_path / "t50.csv"),
                "--out",
                str(tmp_path / "x"),
                "--method",
                "magic",
            ]
        )
    assert (
        main(
            [
                "materials",
                "adapt",
                "--base",
                str(tmp_path / "law"),
                "--data",
                str(tmp_path / "nope.csv"),
                "--out",
                str(tmp_path / "x"),
            ]
        )
        == 2
    )
    assert "nope.csv" in capsys.readouterr().err


def test_torchfem_block_reproduces_the_load_case_driver():
    energy = random_energy(3)
    with torch.no_grad():
        energy.config.bulk_modulus = 5.0
    T = 300.0
    fe = uniaxial_block(energy, T, 1.3, cells=1, steps=2)
    p11, p22, _ = compressible_stress(
        lambda F: energy(F, torch.tensor(T, dtype=torch.float64)), "UT", torch.tensor([1.3], dtype=torch.float64)
    )
    assert abs(float(p22)) < 1e-9
    assert fe == pytest.approx(float(p11), rel=1e-6)


def synthetic_flow(law, rng):
    rows = []
    for T in (1323.15, 1373.15, 1423.15):
        for rate in (0.01, 0.1, 1.0):
            for e in np.linspace(0.05, 0.6, 12):
                rows.append({"material": "x", "temperature_K": T, "strain": e, "strain_rate_per_s": rate})
    table = pd.DataFrame(rows)
    table["stress_MPa"] = law(table)
    return table


def test_classic_laws_recover_their_own_parameters():
    rng = np.random.default_rng(0)
    jc = JohnsonCook()
    jc.reference_k = 1323.15
    truth = np.array([40.0, 60.0, 0.25, 0.12, 1.4])
    table = synthetic_flow(
        lambda t: jc._predict(
            truth, t["strain"].to_numpy(), t["strain_rate_per_s"].to_numpy(), t["temperature_K"].to_numpy()
        ),
        rng,
    )
    fitted = JohnsonCook().fit(table)
    np.testing.assert_allclose(fitted.params, truth, rtol=1e-4)
    hs = HanselSpittel()
    hs.coef = np.array([8.0, -0.002, 0.15, 0.12, -0.01, -0.0003, -0.2, 0.0001, -0.3])
    table = synthetic_flow(hs.predict, rng)
    np.testing.assert_allclose(HanselSpittel().fit(table).coef, hs.coef, rtol=1e-6, atol=1e-9)


def test_flow_law_is_monotone_by_construction():
    torch.manual_seed(0)
    flow = FlowStress(FlowConfig()).double()
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(torch.randn_like(p))
    n = 2000
    strain = torch.rand(n, dtype=torch.float64) * 0.8
    rate = torch.exp(torch.empty(n, dtype=torch.float64).uniform_(-7, 2)).requires_grad_(True)
    T = torch.empty(n, dtype=torch.float64).uniform_(1280, 1570).requires_grad_(True)
    d_rate, d_T = torch.autograd.grad(flow(strain, rate, T).sum(), (rate, T))
    assert float(d_rate.min()) >= 0 and float(d_T.max()) <= 0


def test_steel_fit_and_adapt_to_1200C_from_one_strain_rate():
    table = from_gleeble(shared_data("steel_hot_compression", "flow_curves_1050-1200C.csv"))
    table = table[(table.strain >= 0.02) & ((table.strain * 1000).round() % 20 == 0)].reset_index(drop=True)
    base = table[table.temperature_K < 1450].reset_index(drop=True)
    new = table[table.temperature_K > 1450].reset_index(drop=True)
    flow = fit_flow(base, epochs=300)
    assert np.mean([r["relative_error_pct"] for r in evaluate(flow, base)]) < 6
    one_rate = new[new.strain_rate_per_s == 0.1].reset_index(drop=True)
    report = adapt(flow, one_rate, "T1473K", replay=base, epochs=200, lr=1e-2)
    assert report["fraction"] <= 0.10
    nn_error = score(
        new,
        flow(
            *[
                torch.tensor(new[c].to_numpy(float), dtype=torch.float64)
                for c in ("strain", "strain_rate_per_s", "temperature_K")
            ]
        )
        .detach()
        .numpy(),
        ["temperature_K"],
    )[0]["relative_error_pct"]
    jc_error = score(new, JohnsonCook().fit(base).predict(new), ["temperature_K"])[0]["relative_error_pct"]
    assert nn_error < jc_error


def test_without_torch_fem_the_bridge_says_how_to_install_it(monkeypatch):
    import sys

    from scisft.errors import ConfigError
    from scisft.materials.fem import torchfem_material

    monkeypatch.setitem(sys.modules, "torchfem", None)  # as if torch-fem were not installed
    with pytest.raises(ConfigError, match=r"pip install \"scisft\[fem\]\""):
        torchfem_material(None, 293.15)
