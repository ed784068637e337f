"""The cuEquivariance backend computes the same potential as e3nn (on CPU: cuEquivariance's PyTorch path)."""

import sys

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch

from scisft.errors import ConfigError
from scisft.potentials import ScisftCalculator
from scisft.potentials.cueq import use_cuequivariance, use_e3nn
from scisft.potentials.graph import atoms_to_graph
from tests.potentials.helpers import ethanol, rattled_mo, tiny_model

pytest.importorskip("cuequivariance_torch", reason="the cuEquivariance backend needs cuequivariance-torch")


def results(model, atoms, tensor_product):
    atoms = atoms.copy()
    atoms.calc = ScisftCalculator(model, dtype="float64", tensor_product=tensor_product)
    stress = atoms.get_stress() if atoms.pbc.any() else np.zeros(6)
    return atoms.get_potential_energy(), atoms.get_forces(), stress


@pytest.mark.parametrize("l_max", [1, 2, 3])
@pytest.mark.parametrize("make", [ethanol, rattled_mo])
def test_energy_forces_and_stress_match_e3nn(l_max, make):
    model = tiny_model(l_max=l_max)
    e3nn = results(model, make(), "e3nn")
    cueq = results(model, make(), "cuequivariance")
    assert abs(e3nn[0]) > 1e-3 and np.abs(e3nn[1]).max() > 1e-3  # a non-trivial surface
    assert cueq[0] == pytest.approx(e3nn[0], abs=1e-9)
    np.testing.assert_allclose(cueq[1], e3nn[1], atol=1e-9)
    np.testing.assert_allclose(cueq[2], e3nn[2], atol=1e-9)


def test_training_gradients_match_e3nn():
    """A force loss's gradient with respect to the weights (double backward through the product) is the same."""
    model = tiny_model()
    batch = Batch.from_data_list(
        [atoms_to_graph(a, model.config.cutoff, labels=False) for a in (ethanol(), rattled_mo())]
    )

    def gradients():
        model.zero_grad()
        out = model(batch, forces=True, stress=True, training=True)
        (out["forces"].square().sum() + out["stress"].square().sum() + out["energy"].sum()).backward()
        return [p.grad.clone() for p in model.parameters() if p.grad is not None]

    expected = gradients()
    use_cuequivariance(model)
    got = gradients()
    assert len(got) == len(expected) > 10
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e, atol=1e-9, rtol=1e-7)


def test_checkpoints_do_not_change_and_e3nn_comes_back():
    model = tiny_model()
    keys = {k: v.clone() for k, v in model.state_dict().items()}
    use_cuequivariance(model)
    assert set(model.state_dict()) == set(keys)
    assert all(layer.fast_tp is not None for layer in model.layers)
    use_e3nn(model)
    assert all(layer.fast_tp is None for layer in model.layers)
    for k, v in model.state_dict().items():
        assert torch.equal(v, keys[k])


def test_float32_matches():
    model = tiny_model(dtype=torch.float32)
    graph = Batch.from_data_list([atoms_to_graph(ethanol(), model.config.cutoff, labels=False)])
    e3nn = model(graph)
    use_cuequivariance(model)
    cueq = model(graph)
    torch.testing.assert_close(cueq["energy"], e3nn["energy"], atol=1e-4, rtol=1e-6)
    torch.testing.assert_close(cueq["forces"], e3nn["forces"], atol=1e-5, rtol=1e-4)


def test_missing_package_and_unknown_backend_are_clear_errors(monkeypatch):
    monkeypatch.setitem(sys.modules, "cuequivariance_torch", None)  # import fails as if not installed
    with pytest.raises(ConfigError, match="pip install 'scisft\\[cueq\\]'"):
        use_cuequivariance(tiny_model())
    with pytest.raises(ConfigError, match="tensor_product must be 'e3nn' or 'cuequivariance'"):
        ScisftCalculator(tiny_model(), tensor_product="cueq")
