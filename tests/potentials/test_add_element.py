"""Adding an element: zero forgetting by construction, equivariance, stacking, refusals, and a real-data run."""

import json

import numpy as np
import pytest
import torch
from ase.build import bulk, molecule
from ase.io import write
from scipy.spatial.transform import Rotation

from scisft import CheckpointError, ConfigError, adapter_parameters, save_adapter, set_active
from scisft.cli import main
from scisft.potentials import load, read_structures, save_potential
from scisft.potentials.add_element import (
    AddElementOptions,
    adapter_name,
    add_element,
    element_plan,
    start_element,
)
from scisft.potentials.data import collate, to_graphs
from scisft.potentials.readers import labelled
from scisft.potentials.store import load_element_adapter
from tests.helpers import shared_data
from tests.potentials.helpers import tiny_model


def old_structures():
    mols = [molecule(n) for n in ("CH4", "C2H6", "CH3CN", "C6H6")]
    for k, m in enumerate(mols):
        m.rattle(0.05, seed=k)
    cell = bulk("Mo", "bcc", a=3.15, cubic=True) * (2, 1, 1)
    cell.rattle(0.05, seed=7)
    return mols + [cell]


def new_structures(symbol="O"):
    mols = [molecule(n) for n in (("CH3OH", "H2O", "CH3CH2OH") if symbol == "O" else ("NH3", "CH3CN"))]
    for k, m in enumerate(mols):
        m.rattle(0.05, seed=10 + k)
    return mols


def predictions(model, structures):
    graphs = to_graphs(structures, model.config.cutoff)
    out = model(collate(graphs), forces=True, stress=True)
    return {k: out[k].detach().clone() for k in ("energy", "forces", "stress")}


def add_gated(model, symbol, seed=1):
    """Attach a gated adapter for ``symbol`` and give it random 'trained' values."""
    name = adapter_name(symbol)
    start_element(model, symbol, name, None)
    element_plan(model, symbol, AddElementOptions()).apply(model, name)
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in adapter_parameters(model, name).values():
            p.add_(0.3 * torch.randn_like(p))
    return name


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_gated_keeps_old_chemistry_bit_identical(dtype):
    model = tiny_model(elements=("H", "C", "N", "Mo"), dtype=dtype)
    old, new = old_structures(), new_structures()
    before_old = predictions(model, old)
    add_gated(model, "O")
    after_old = predictions(model, old)
    for key in ("energy", "forces", "stress"):
        assert torch.equal(after_old[key], before_old[key]), key
    # mixed batches too: in a batch with new structures, the old ones get exactly what they get with the
    # adapter switched off (the base itself may round differently in a bigger batch, so compare like with like)
    mixed_on = predictions(model, old + new)
    set_active(model, "add_O", False)
    mixed_off = predictions(model, old + new)
    set_active(model, "add_O", True)
    n_old_atoms = sum(len(a) for a in old)
    assert torch.equal(mixed_on["energy"][: len(old)], mixed_off["energy"][: len(old)])
    assert torch.equal(mixed_on["forces"][:n_old_atoms], mixed_off["forces"][:n_old_atoms])
    assert not torch.equal(mixed_on["energy"][len(old) :], mixed_off["energy"][len(old) :])
    # and the adapter does act on structures with the new element
    model_off = tiny_model(elements=("H", "C", "N", "Mo"), dtype=dtype)
    start_element(model_off, "O", "add_O", None)
    before_new = predictions(model_off, new)
    assert not torch.allclose(predictions(model, new)["energy"], before_new["energy"])


def test_equivariance_holds_after_adaptation():
    model = tiny_model(elements=("H", "C", "N"))
    add_gated(model, "O")
    atoms = new_structures()[2]
    ref = predictions(model, [atoms])
    Q = Rotation.random(random_state=4).as_matrix() * -1
    turned = atoms.copy()
    turned.positions = atoms.positions @ Q.T + 1.7
    out = predictions(model, [turned])
    assert abs(float(out["energy"][0] - ref["energy"][0])) < 1e-9
    np.testing.assert_allclose(out["forces"].numpy(), ref["forces"].numpy() @ Q.T, atol=1e-9)


def test_gated_energy_stays_smooth_as_an_atom_crosses_the_new_elements_cutoff():
    """The neighbours' adapters fade with distance: no jump in energy, and forces stay -dE/dr, where a methane's C
    leaves the cutoff sphere of a water's O (a yes/no neighbour gate would jump by the whole adapter update there)."""
    model = tiny_model(elements=("H", "C"))
    add_gated(model, "O")
    cutoff = model.config.cutoff

    def system(d):
        water, methane = molecule("H2O"), molecule("CH4")
        water.translate(-water.positions[0])  # O at the origin
        methane.translate([d, 0.0, 0.0])  # its C at distance d from the O
        return water + methane

    def energy_and_pull(d):
        out = predictions(model, [system(d)])
        return float(out["energy"][0]), float(out["forces"][3:, 0].sum())  # x-force on the whole methane

    (below, pull_below), (above, pull_above) = energy_and_pull(cutoff - 1e-4), energy_and_pull(cutoff + 1e-4)
    assert abs((above - below) + 1e-4 * (pull_below + pull_above)) < 1e-7  # the change is the work, no jump
    h, d = 1e-4, cutoff - 0.02
    slope = (energy_and_pull(d + h)[0] - energy_and_pull(d - h)[0]) / (2 * h)
    pull = energy_and_pull(d)[1]
    assert abs(pull) > 1e-4  # the adapter does act at this distance
    assert abs(slope + pull) < 1e-6 * max(1.0, abs(pull))


def test_adapters_stack_and_the_first_is_preserved(tmp_path):
    base = tiny_model(elements=("H", "C"))
    save_potential(base, tmp_path / "base")
    model = load(tmp_path / "base", dtype=torch.float64)
    add_gated(model, "O")
    save_adapter(model, "add_O", tmp_path / "O", extra={"kind": "element", "element": "O", "stack": []})
    with_o = predictions(model, new_structures("O"))
    add_gated(model, "N", seed=2)
    save_adapter(model, "add_N", tmp_path / "N", extra={"kind": "element", "element": "N", "stack": ["O"]})
    assert torch.equal(predictions(model, new_structures("O"))["energy"], with_o["energy"])

    reloaded = load(tmp_path / "base", [tmp_path / "O", tmp_path / "N"], dtype=torch.float64)
    assert reloaded.elements == ["H", "C", "O", "N"]
    torch.testing.assert_close(
        predictions(reloaded, new_structures("N"))["energy"],
        predictions(model, new_structures("N"))["energy"],
        rtol=0,
        atol=1e-12,
    )
    with pytest.raises(CheckpointError, match="trained on top of"):
        load(tmp_path / "base", [tmp_path / "N"])


def test_adapter_refuses_a_different_base(tmp_path):
    save_potential(tiny_model(elements=("H", "C")), tmp_path / "base")
    model = load(tmp_path / "base")
    add_gated(model, "O")
    save_adapter(model, "add_O", tmp_path / "O", extra={"kind": "element", "element": "O", "stack": []})
    other = tiny_model(elements=("H", "C"), seed=5)
    with pytest.raises(CheckpointError, match="fingerprint"):
        load_element_adapter(other, tmp_path / "O")
    assert other.elements == ["H", "C"]


def labelled_copies(structures, source):
    rng = np.random.default_rng(0)
    return [
        labelled(a.copy(), f"{source}:{k}", energy=-10.0 * len(a) + rng.normal(), forces=rng.normal(size=(len(a), 3)))
        for k, a in enumerate(structures)
    ]


@pytest.fixture
def small_base(tmp_path):
    save_potential(tiny_model(elements=("H", "C", "N")), tmp_path / "base")
    return tmp_path


def run_add(tmp, data, element="O", *extra):
    write(tmp / "data.xyz", data, format="extxyz")
    return main(
        [
            "potentials",
            "add-element",
            "--base",
            str(tmp / "base"),
            "--element",
            element,
            "--data",
            str(tmp / "data.xyz"),
            "--out",
            str(tmp / "out"),
            "--epochs",
            "1",
            *extra,
        ]
    )


def test_bad_input_is_refused_with_a_clear_message(small_base, capsys):
    tmp = small_base
    assert run_add(tmp, labelled_copies(new_structures("O"), "d"), "C") == 2
    err = capsys.readouterr().err
    assert "already knows C" in err and "fine-tune" in err
    assert run_add(tmp, labelled_copies(old_structures()[:3], "d")) == 2
    assert "contain no atom of O" in capsys.readouterr().err
    assert run_add(tmp, labelled_copies([molecule("SO2"), molecule("H2O")], "d")) == 2
    assert "contains S besides the new element O" in capsys.readouterr().err
    in_kcal = labelled_copies(new_structures("O"), "d")
    for atoms in in_kcal:
        atoms.calc.results["forces"] = atoms.calc.results["forces"] * 23.06 * 40
    assert run_add(tmp, in_kcal) == 2
    assert "force RMS of the new data" in capsys.readouterr().err
    no_forces = [labelled(a, f"d:{k}", energy=-1.0) for k, a in enumerate(new_structures("O"))]
    assert run_add(tmp, no_forces) == 2
    assert "field 'forces'" in capsys.readouterr().err
    assert run_add(tmp, labelled_copies(new_structures("O"), "d"), "O", "--device", "gpu0") == 2
    assert "device 'gpu0' is not a torch device" in capsys.readouterr().err
    assert not (tmp / "out").exists(), "a refused run writes nothing"
    with pytest.raises(ConfigError, match="strategy"):
        AddElementOptions(strategy="magic")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("strategy", ["gated", "full"])
def test_adding_an_element_on_a_gpu_matches_the_cpu(small_base, strategy):
    write(small_base / "data.xyz", labelled_copies(new_structures("O"), "d"), format="extxyz")
    reports = {}
    for device in ("cpu", "cuda"):
        options = AddElementOptions(strategy=strategy, training={"epochs": 3, "progress": False, "device": device})
        reports[device] = add_element(
            small_base / "base", "O", [small_base / "data.xyz"], small_base / device, options=options
        )
    for which in ("new", "old"):
        cpu, gpu = reports["cpu"]["adapted"][which], reports["cuda"]["adapted"][which]
        if cpu is not None:
            assert gpu["force_mae_mev_per_A"] == pytest.approx(cpu["force_mae_mev_per_A"], rel=1e-3)


def test_add_oxygen_to_a_real_chn_model(tmp_path):
    """End to end on rMD17: a small C/H/N base, then O from ethanol; the report shows learning and no forgetting."""
    frames = []
    for name in ("toluene", "azobenzene"):
        frames += read_structures(shared_data("rmd17", f"rmd17_{name}_train_01.npz"))[:24]
    write(tmp_path / "chn.xyz", frames, format="extxyz")
    (tmp_path / "opts.yaml").write_text(
        "model: {channels: 8, num_layers: 2, radial_hidden: 16, readout_hidden: 8}\n"
        "training: {epochs: 3, progress: false}\n"
    )
    assert (
        main(
            [
                "potentials",
                "train",
                "--data",
                str(tmp_path / "chn.xyz"),
                "--out",
                str(tmp_path / "base"),
                "--config",
                str(tmp_path / "opts.yaml"),
            ]
        )
        == 0
    )
    ethanol = read_structures(shared_data("rmd17", "rmd17_ethanol_train_01.npz"))
    write(tmp_path / "o.xyz", ethanol[:32], format="extxyz")
    write(tmp_path / "o_val.xyz", ethanol[500:508], format="extxyz")
    code = main(
        [
            "potentials",
            "add-element",
            "--base",
            str(tmp_path / "base"),
            "--element",
            "O",
            "--data",
            str(tmp_path / "o.xyz"),
            "--validation",
            str(tmp_path / "o_val.xyz"),
            "--old-validation",
            str(tmp_path / "chn.xyz"),
            "--out",
            str(tmp_path / "O"),
            "--epochs",
            "6",
        ]
    )
    assert code == 0
    report = json.loads((tmp_path / "O" / "report.json").read_text())
    assert report["forgetting"]["bit_identical"] is True
    assert report["forgetting"]["max_energy_change_mev"] == 0.0
    assert report["adapted"]["new"]["force_mae_mev_per_A"] < report["zero_shot"]["new"]["force_mae_mev_per_A"]
    manifest = json.loads((tmp_path / "O" / "manifest.json").read_text())
    in_file = sum(int(np.prod(t["shape"])) for t in manifest["tensors"].values())
    assert report["trainable"]["trainable"] == in_file  # everything trained is in the adapter file, nothing else
    model = load(tmp_path / "base", tmp_path / "O")
    assert model.elements == ["H", "C", "N", "O"]
    assert (
        main(
            [
                "potentials",
                "evaluate",
                "--model",
                str(tmp_path / "base"),
                "--adapter",
                str(tmp_path / "O"),
                "--data",
                str(tmp_path / "o_val.xyz"),
                "--json",
            ]
        )
        == 0
    )
