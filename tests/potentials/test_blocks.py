"""Message passing in edge blocks gives the unblocked results, with gated adapters; training runs unblocked."""

import numpy as np
import pytest
import torch
from ase.build import bulk
from torch_geometric.data import Batch

from scisft.potentials.blocks import EdgeBlocks
from scisft.potentials.graph import atoms_to_graph
from tests.potentials.helpers import ethanol, rattled_mo, tiny_model
from tests.potentials.test_add_element import add_gated


def oxidised_mo():
    """A periodic Mo cell with O atoms: the gated adapter's masks vary from edge to edge."""
    atoms = bulk("Mo", "bcc", a=3.15, cubic=True) * (2, 2, 2)
    atoms.rattle(0.05, seed=4)
    atoms.symbols[[0, 5]] = "O"
    return atoms


def batch(model, structures):
    return Batch.from_data_list([atoms_to_graph(a, model.config.cutoff, labels=False) for a in structures])


def outputs(model, data, max_block_edges):
    model.max_block_edges = max_block_edges
    out = model(data, forces=True, stress=True)
    return {k: out[k].detach() for k in ("energy", "forces", "stress")}


def test_blocks_cover_every_edge_once_and_never_split_an_atom():
    centre = torch.tensor([3, 0, 0, 2, 3, 3, 0, 5, 2])  # atoms 1 and 4 have no edges
    blocks = EdgeBlocks(centre, n_atoms=6, max_edges=3)
    sorted_centre = centre[blocks.order]
    assert blocks.atom_ranges[0][0] == 0 and blocks.atom_ranges[-1][1] == 6
    assert blocks.edge_ranges[0][0] == 0 and blocks.edge_ranges[-1][1] == len(centre)
    for (a0, a1), (e0, e1) in zip(blocks.atom_ranges, blocks.edge_ranges, strict=True):
        assert a0 < a1 and ((sorted_centre[e0:e1] >= a0) & (sorted_centre[e0:e1] < a1)).all()
    for (_, a1), (a2, _) in zip(blocks.atom_ranges, blocks.atom_ranges[1:], strict=False):
        assert a1 == a2
    assert len(blocks) >= 3


@pytest.mark.parametrize("max_block_edges", [7, 50, 120])
def test_blocked_layers_match_unblocked_with_a_gated_adapter(max_block_edges):
    model = tiny_model(elements=("H", "C", "Mo"))
    add_gated(model, "O")
    data = batch(model, [oxidised_mo(), ethanol(), rattled_mo()])
    expected = outputs(model, data, 0)
    assert data.edge_index.shape[1] > 3 * max_block_edges  # several blocks
    got = outputs(model, data, max_block_edges)
    torch.testing.assert_close(got["energy"], expected["energy"], rtol=0, atol=1e-10)
    torch.testing.assert_close(got["forces"], expected["forces"], rtol=0, atol=1e-10)
    torch.testing.assert_close(got["stress"], expected["stress"], rtol=0, atol=1e-10)
    assert np.abs(expected["forces"].numpy()).max() > 1e-3


def test_weight_gradients_of_an_energy_match_through_the_blocks():
    """Outside training, a loss on energies still gets every weight's gradient (recomputed block by block)."""
    model = tiny_model(elements=("H", "C", "Mo"))
    add_gated(model, "O")
    data = batch(model, [oxidised_mo(), ethanol()])

    def gradients(max_block_edges):
        model.max_block_edges = max_block_edges
        model.zero_grad()
        model(data, forces=False)["energy"].square().sum().backward()
        return {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}

    expected, got = gradients(0), gradients(40)
    assert got.keys() == expected.keys() and any("scisft_adapters" in k for k in got)
    for key, value in expected.items():
        torch.testing.assert_close(got[key], value, atol=1e-9, rtol=1e-7, msg=key)
