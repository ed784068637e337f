"""The potential's physics: symmetries, forces and stress as derivatives, extensivity, energy conservation."""

import numpy as np
import pytest
import torch
from ase import units
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
from ase.md.verlet import VelocityVerlet
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from scisft.potentials import ScisftCalculator
from tests.potentials.helpers import calc, ethanol, rattled_mo, tiny_model


def evaluate(model, atoms):
    atoms = atoms.copy()
    atoms.calc = calc(model)
    stress = atoms.get_stress(voigt=False) if atoms.pbc.any() else None
    return atoms.get_potential_energy(), atoms.get_forces(), stress


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), reflect=st.booleans())
def test_energy_invariant_forces_and_stress_equivariant(seed, reflect):
    model = tiny_model()
    rng = np.random.default_rng(seed)
    Q = Rotation.random(random_state=seed).as_matrix() * (-1 if reflect else 1)
    shift = rng.normal(size=3) * 3
    for atoms in (ethanol(), rattled_mo()):
        e, f, s = evaluate(model, atoms)
        moved = atoms.copy()
        perm = rng.permutation(len(atoms))
        moved = moved[perm]
        moved.positions = moved.positions @ Q.T + shift
        if atoms.pbc.any():
            moved.set_cell(moved.cell[:] @ Q.T, scale_atoms=False)
        e2, f2, s2 = evaluate(model, moved)
        assert abs(e2 - e) < 1e-9 * max(1, abs(e))
        np.testing.assert_allclose(f2, f[perm] @ Q.T, atol=1e-9)
        if s is not None:
            np.testing.assert_allclose(s2, Q @ s @ Q.T, atol=1e-10)


@pytest.mark.parametrize("make", [ethanol, rattled_mo], ids=["molecule", "periodic"])
def test_forces_are_central_differences_of_energy(model64, make):
    atoms = make()
    _, forces, _ = evaluate(model64, atoms)
    assert np.abs(forces).max() > 1e-3, "the test needs a model with non-trivial forces"
    h = 1e-4
    rng = np.random.default_rng(0)
    for a in rng.choice(len(atoms), size=min(4, len(atoms)), replace=False):
        for k in range(3):
            plus, minus = atoms.copy(), atoms.copy()
            plus.positions[a, k] += h
            minus.positions[a, k] -= h
            fd = -(evaluate(model64, plus)[0] - evaluate(model64, minus)[0]) / (2 * h)
            assert abs(fd - forces[a, k]) < 1e-6, (a, k, fd, forces[a, k])


def test_stress_is_the_strain_derivative_of_energy(model64):
    atoms = rattled_mo()
    _, _, stress = evaluate(model64, atoms)
    assert np.abs(stress).max() > 1e-5
    volume, h = atoms.get_volume(), 1e-5
    for i, j in [(0, 0), (1, 1), (2, 2), (0, 1), (1, 2), (0, 2)]:
        energies = []
        for sign in (1, -1):
            eps = np.zeros((3, 3))
            eps[i, j] = eps[j, i] = sign * h
            strained = atoms.copy()
            strained.set_cell(atoms.cell[:] @ (np.eye(3) + eps), scale_atoms=True)
            energies.append(evaluate(model64, strained)[0])
        fd = (energies[0] - energies[1]) / (2 * h) / volume / (1 if i == j else 2)
        assert abs(fd - stress[i, j]) < 1e-7, (i, j, fd, stress[i, j])


def test_supercell_energy_is_extensive(model64):
    atoms = rattled_mo()
    e, f, s = evaluate(model64, atoms)
    e8, f8, s8 = evaluate(model64, atoms * (2, 2, 2))
    assert abs(e8 - 8 * e) < 1e-8 * abs(e8)
    np.testing.assert_allclose(f8[: len(atoms)], f, atol=1e-9)
    np.testing.assert_allclose(s8, s, atol=1e-10)


def test_float32_and_float64_agree():
    atoms = ethanol()
    e64, f64, _ = evaluate(tiny_model(dtype=torch.float64), atoms)
    model32 = tiny_model(dtype=torch.float32)
    atoms.calc = type(calc(model32))(model32, dtype="float32")
    assert abs(atoms.get_potential_energy() - e64) < 1e-4
    np.testing.assert_allclose(atoms.get_forces(), f64, atol=1e-4)


def test_nve_md_conserves_total_energy():
    """Velocity Verlet, float64, 0.25 fs, 400 steps at 300 K: total energy drifts < 2e-5 eV per atom."""
    atoms = ethanol()
    atoms.calc = calc(tiny_model(scale=0.2))
    MaxwellBoltzmannDistribution(atoms, temperature_K=300, rng=np.random.default_rng(0))
    dyn = VelocityVerlet(atoms, timestep=0.25 * units.fs)
    totals = []
    dyn.attach(lambda: totals.append(atoms.get_total_energy()), interval=10)
    dyn.run(400)
    totals = np.array(totals)
    assert np.abs(totals - totals[0]).max() / len(atoms) < 2e-5
    assert atoms.get_kinetic_energy() > 0.01


def test_compiled_calculator_matches_eager_as_the_neighbour_count_changes():
    model = tiny_model(dtype=torch.float32)
    eager = ScisftCalculator(model, dtype="float32")
    compiled = ScisftCalculator(model, dtype="float32", compile=True)
    for atoms in (ethanol(), rattled_mo(), rattled_mo() * (2, 1, 1)):  # a molecule, then two periodic sizes
        reference = atoms.copy()
        reference.calc = eager
        atoms.calc = compiled
        np.testing.assert_allclose(atoms.get_potential_energy(), reference.get_potential_energy(), rtol=1e-5)
        np.testing.assert_allclose(atoms.get_forces(), reference.get_forces(), atol=1e-4)
        if atoms.pbc.any():
            np.testing.assert_allclose(atoms.get_stress(), reference.get_stress(), atol=1e-5)
