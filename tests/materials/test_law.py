"""The free energy's guarantees, checked numerically; kinematics against closed forms; the bad inputs."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from scisft import CopyConfig, DataError, Plan, Rule
from scisft.materials.free_energy import FreeEnergy, LawConfig, MaterialLaw
from scisft.materials.kinematics import cofactor, det3, incompressible_stress, invariants

T_GRID = torch.linspace(223.15, 423.15, 9, dtype=torch.float64)


def random_energy(seed: int) -> FreeEnergy:
    """A law with random (not fitted) weights, temperature modulation included, far from its initial state."""
    torch.manual_seed(seed)
    energy = FreeEnergy(LawConfig()).double()
    with torch.no_grad():
        for p in energy.parameters():
            p.add_(torch.randn_like(p))
    return energy


def random_F(seed: int, n: int = 16) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    F = torch.eye(3, dtype=torch.float64) + 0.3 * torch.randn(n, 3, 3, generator=g, dtype=torch.float64)
    return F[det3(F) > 0.2]


def test_closed_form_3x3_algebra():
    F = random_F(0)
    torch.testing.assert_close(det3(F), torch.linalg.det(F))
    torch.testing.assert_close(cofactor(F), torch.linalg.det(F)[:, None, None] * torch.linalg.inv(F).transpose(1, 2))
    I1, I2, J = invariants(F)
    C = F.transpose(1, 2) @ F
    torch.testing.assert_close(I2, 0.5 * (I1**2 - torch.einsum("nij,nji->n", C, C)))


@pytest.mark.parametrize(
    "mode, closed_form",
    [
        ("UT", lambda l: l - l**-2),
        ("ET", lambda l: l - l**-5),
        ("PS", lambda l: l - l**-3),
        ("SS", lambda g: g),
    ],
)
def test_incompressible_load_cases_match_neo_hooke(mode, closed_form):
    """psi = mu/2 (I1 - 3) with incompressibility: the textbook nominal stresses (SS: P12 = mu gamma)."""
    mu = 0.4
    stretch = torch.linspace(0.6 if mode == "UT" else 1.0, 3.0, 7, dtype=torch.float64)
    p1, _ = incompressible_stress(lambda F: 0.5 * mu * (invariants(F)[0] - 3), mode, stretch)
    torch.testing.assert_close(p1, mu * closed_form(stretch), atol=1e-10, rtol=1e-10)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_objectivity_and_isotropy(seed):
    energy, F = random_energy(seed % 7), random_F(seed)
    Q = torch.tensor(Rotation.random(2, random_state=seed).as_matrix(), dtype=torch.float64)
    for T in (250.0, 400.0):
        T = torch.tensor(T, dtype=torch.float64)
        psi = energy(F, T)
        torch.testing.assert_close(energy(Q[0] @ F, T), psi, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(energy(F @ Q[1], T), psi, rtol=1e-10, atol=1e-10)


def test_energy_and_stress_vanish_at_identity_for_every_temperature():
    law = MaterialLaw(random_energy(1))
    eye = torch.eye(3, dtype=torch.float64).expand(len(T_GRID), 3, 3)
    mechanical = law.energy.mechanical(eye, T_GRID)
    assert mechanical.abs().max() < 1e-12
    assert law.stress(eye, T_GRID).abs().max() < 1e-10


def test_cauchy_stress_is_symmetric_and_stress_is_the_derivative_of_psi():
    law = MaterialLaw(random_energy(2))
    F, T = random_F(3), torch.tensor(310.0, dtype=torch.float64)
    sigma = law.cauchy_stress(F, T)
    torch.testing.assert_close(sigma, sigma.transpose(1, 2), atol=1e-9, rtol=1e-9)
    P, h = law.stress(F, T), 1e-6
    for i, j in [(0, 0), (0, 1), (2, 1), (1, 2)]:
        dF = torch.zeros(3, 3, dtype=torch.float64)
        dF[i, j] = h
        fd = (law.free_energy(F + dF, T) - law.free_energy(F - dF, T)) / (2 * h)
        torch.testing.assert_close(P[:, i, j], fd, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("seed", range(4))
def test_convex_in_the_polyconvex_arguments(seed):
    """Along random segments in (F, cof F, J) taken as independent variables, for random temperatures."""
    energy = random_energy(seed)
    g = torch.Generator().manual_seed(seed)
    n = 4000

    def point():
        F = torch.eye(3, dtype=torch.float64) + 0.4 * torch.randn(n, 3, 3, generator=g, dtype=torch.float64)
        H = torch.eye(3, dtype=torch.float64) + 0.4 * torch.randn(n, 3, 3, generator=g, dtype=torch.float64)
        J = 0.3 + 1.5 * torch.rand(n, generator=g, dtype=torch.float64)
        return F, H, J

    def psi(F, H, J, T):
        phi = energy.lifted_branch_energies((F * F).sum((-2, -1)), (H * H).sum((-2, -1)), J)
        return (energy.modulation(T) * phi).sum(-1) + 0.5 * energy.config.bulk_modulus * (J - 1) ** 2

    T = 223.15 + 200 * torch.rand(n, generator=g, dtype=torch.float64)
    a, b = point(), point()
    mid = tuple((x + y) / 2 for x, y in zip(a, b))
    gap = psi(*mid, T) - (psi(*a, T) + psi(*b, T)) / 2
    assert float(gap.max()) <= 1e-9 * float(psi(*a, T).abs().max())


def test_heat_capacity_positive_and_entropy_is_minus_dpsi_dT():
    law = MaterialLaw(random_energy(5))
    F = random_F(6)
    for T in T_GRID:
        c = law.heat_capacity(F, T)
        assert float(c.min()) >= law.energy.config.heat_capacity * (1 - 1e-9)
    T, h = torch.tensor(300.0, dtype=torch.float64), 1e-4
    fd = -(law.free_energy(F, T + h) - law.free_energy(F, T - h)) / (2 * h)
    torch.testing.assert_close(law.entropy(F, T), fd, atol=1e-7, rtol=1e-6)


def test_modulation_is_concave_and_positive_on_the_range():
    energy = random_energy(7)
    T = torch.linspace(223.15, 423.15, 201, dtype=torch.float64)
    a = energy.modulation(T)
    assert float(a.min()) > 0
    second = a[2:] - 2 * a[1:-1] + a[:-2]
    assert float(second.max()) <= 1e-12


def test_adapting_the_modulation_leaves_the_base_untouched():
    energy = random_energy(8)
    before = {k: v.clone() for k, v in energy.state_dict().items()}
    report = Plan([Rule("modulation", CopyConfig())]).apply(energy, "T323K")
    assert 0 < report.fraction <= 0.10
    opt = torch.optim.Adam([p for p in energy.parameters() if p.requires_grad], lr=0.1)
    F, T = random_F(9), torch.tensor(323.15, dtype=torch.float64)
    for _ in range(5):
        opt.zero_grad()
        energy.mechanical(F, T).sum().backward()
        opt.step()
    for k, v in before.items():
        assert torch.equal(energy.state_dict()[k], v), k


def test_bad_inputs_are_refused():
    law = MaterialLaw(random_energy(0))
    F = torch.eye(3, dtype=torch.float64)
    with pytest.raises(DataError, match="det F must be positive"):
        law.stress(torch.diag(torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64)), 300.0)
    with pytest.raises(DataError, match="above 0 K"):
        law.free_energy(F, -5.0)
    with pytest.raises(DataError, match="outside the law's validity range"):
        law.free_energy(F, 600.0)
    with pytest.raises(DataError, match="shape"):
        law.stress(torch.eye(2), 300.0)
    with pytest.raises(DataError, match="unknown load mode"):
        incompressible_stress(lambda F: invariants(F)[0], "XX", torch.ones(2, dtype=torch.float64))
    assert math.isfinite(float(law.free_energy(F, 300.0)))
    np.testing.assert_allclose(law.stress(F, 300.0).numpy(), 0, atol=1e-10)
