"""Small models and structures for the potential tests."""

import numpy as np
import torch
from ase import Atoms
from ase.build import bulk, molecule

from scisft.potentials import Potential, PotentialConfig, ScisftCalculator


def tiny_model(elements=("H", "C", "N", "O", "Mo"), seed=0, dtype=torch.float64, scale=5.0, **kw) -> Potential:
    torch.manual_seed(seed)
    options = {"channels": 8, "num_layers": 2, "radial_hidden": 16, "readout_hidden": 8, "cutoff": 4.0, **kw}
    model = Potential(PotentialConfig(elements=list(elements), **options)).to(dtype)
    with torch.no_grad():  # a random model is smooth but flat; make its energy surface visibly curved
        model.scale.fill_(scale)
    return model


def ethanol() -> Atoms:
    atoms = molecule("CH3CH2OH")
    atoms.rattle(0.05, seed=1)
    return atoms


def rattled_mo() -> Atoms:
    atoms = bulk("Mo", "bcc", a=3.15, cubic=True) * (2, 2, 1)
    atoms.rattle(0.05, seed=2)
    strain = 0.02 * np.random.default_rng(3).standard_normal((3, 3))
    atoms.set_cell(atoms.cell[:] @ (np.eye(3) + strain), scale_atoms=True)
    return atoms


def calc(model) -> ScisftCalculator:
    return ScisftCalculator(model, dtype="float64")
