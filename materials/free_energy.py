"""A thermodynamically consistent free energy psi(F, T) (MPa = MJ/m^3; T in K; F dimensionless).

    psi(F, T) = psi_th(T) + sum_k a_k(T) phi_k(F) + kappa/2 (J - 1)^2

Design note: what holds by construction, and what is checked.

By construction, for every F with det F > 0 and every T in the model's validity range [T_lo, T_hi]:
- Objectivity and isotropy: phi_k depends on F only through the isochoric invariants Ī1 = J^-2/3 I1 and
  Ī2 = J^-4/3 I2 of C = F^T F, which do not change under F -> QF or F -> FQ.
- Polyconvexity: phi_k is a monotone input-convex network (``scisft.convex``: convex and non-decreasing in each
  input) of (x, x^2, e^x - 1) with x = (Ī1 - 3)/10, or of (x, x^2) with x = (Ī2^(3/2) - 3^(3/2))/100. Ī1 and
  Ī2^(3/2) are polyconvex (Hartmann & Neff, IJSS 40, 2003) and the features are convex and non-decreasing for
  x >= 0, so phi_k is polyconvex; a_k(T) > 0 keeps the sum polyconvex, and kappa/2 (J-1)^2 is convex in J. (The
  x^2 and e^x features give the stiffening at large stretch that a softplus network, asymptotically linear, cannot.)
- Normalisation: phi_k(F) = net_k(x_k(F)) - net_k(0) with x = 0 at F = I, so psi_mech(I, T) = 0 for every T, and
  dĪ/dF = 0 at F = I, so the stress vanishes at F = I for every T. phi_k >= 0 (Ī >= 3 and net_k non-decreasing).
- Temperature through a modulation subnetwork: a_k(T) = (1-s) A_k + s B_k + sum_j w_kj b_j(s), s = (T-T_lo)/(T_hi-T_lo),
  with A_k, B_k > 0, w_kj >= 0 and b_j(s) = log(1 + c_j s)/log(1 + c_j) - s concave with b_j(0) = b_j(1) = 0. So a_k
  is concave in T, and positive on the whole range (a concave function is at least its smaller end value there).
- Heat capacity: psi_th(T) = c0 [(T - T_ref) - T ln(T/T_ref)] has psi_th'' = -c0/T, so
  c = -T d2psi/dT2 = c0 - T sum_k a_k''(T) phi_k(F) >= c0 > 0 (a_k'' <= 0, phi_k >= 0). Entropy -dpsi/dT and c
  come from autograd.

Why concave and positive only on a range: a function positive and concave for all T > 0 grows at most like T, so
it could not represent Treloar's rubber, whose stress rises by ~35% from 20 to 50 C (entropic scaling: 10%). Asking
for a temperature outside [T_lo, T_hi] is an error, not a silent extrapolation.

Checked by tests (tests/materials): the above numerically, on random deformations and a temperature grid.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F_

from scisft.convex import InputConvexNet
from scisft.errors import ConfigError, DataError
from scisft.materials.kinematics import det3, invariants

# per branch kind: scale of x and the features of x fed to the network -- each convex and non-decreasing for
# x >= 0. No exponential on the Ī2^(3/2) branch: in equibiaxial tension it reaches ~10^4 and e^x would overflow.
FEATURES = {
    "I1": (10.0, (lambda x: x, lambda x: x * x, torch.expm1)),
    "I2": (100.0, (lambda x: x, lambda x: x * x)),
}
BRANCH_KINDS = tuple(FEATURES)
_INV_SOFTPLUS_ONE = math.log(math.e - 1.0)


@dataclass
class LawConfig:
    """Free-energy architecture. Temperatures in K, c0 in MPa/K, kappa in MPa."""

    branches: tuple[str, ...] = ("I1", "I1", "I2", "I2")
    hidden: tuple[int, ...] = (8, 8)
    t_range_k: tuple[float, float] = (223.15, 423.15)
    t_ref_k: float = 293.15
    heat_capacity: float = 1.9
    bulk_modulus: float = 1000.0
    modulation_basis: int = 4

    def __post_init__(self):
        self.branches = tuple(self.branches)
        self.hidden = tuple(self.hidden)
        self.t_range_k = tuple(float(t) for t in self.t_range_k)
        unknown = [b for b in self.branches if b not in BRANCH_KINDS]
        if not self.branches or unknown:
            raise ConfigError(f"law branches must be chosen from {BRANCH_KINDS}, got {list(self.branches)}")
        lo, hi = self.t_range_k
        if not 0 < lo < hi:
            raise ConfigError(f"temperature range must satisfy 0 < T_lo < T_hi (K), got {self.t_range_k}")
        if self.heat_capacity <= 0 or self.bulk_modulus <= 0:
            raise ConfigError("heat_capacity and bulk_modulus must be positive")

    @classmethod
    def from_dict(cls, values: dict) -> LawConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        if set(values) - known:
            raise ConfigError(f"law config: unknown option(s) {sorted(set(values) - known)}; known: {sorted(known)}")
        return cls(**values)


def check_temperature(T: torch.Tensor, t_range: tuple[float, float]) -> None:
    """Refuse T <= 0 K and temperatures outside the law's validity range."""
    if bool((T <= 0).any()) or not bool(torch.isfinite(T).all()):
        raise DataError("temperatures must be finite and above 0 K", field="temperature")
    lo, hi = t_range
    if bool(((T - lo) < -1e-9).any()) or bool(((T - hi) > 1e-9).any()):
        raise DataError(
            f"temperature {float(T.min()) - 273.15:.1f}..{float(T.max()) - 273.15:.1f} C is outside the law's "
            f"validity range {lo - 273.15:.1f}..{hi - 273.15:.1f} C",
            field="temperature",
            fix="fit a law that covers it: `scisft materials fit ... --t-range-c LOW HIGH` "
            "(LawConfig/FlowConfig t_range_k in Python)",
        )


def check_deformation(F: torch.Tensor) -> torch.Tensor:
    """Refuse deformation gradients with det F <= 0 (or not 3x3, or not finite); returns det F."""
    if F.shape[-2:] != (3, 3):
        raise DataError(f"deformation gradients must have shape (..., 3, 3), got {tuple(F.shape)}", field="F")
    J = det3(F)
    if not bool(torch.isfinite(J).all()) or bool((J <= 0).any()):
        raise DataError("det F must be positive (no interpenetration, no inversion)", field="F")
    return J


class TemperatureModulation(nn.Module):
    """a_k(T) > 0, concave on [T_lo, T_hi] (see module docstring); starts at a_k = 1 for every T."""

    def __init__(self, branches: int, t_range: tuple[float, float], basis: int = 4):
        super().__init__()
        self.t_range = t_range
        self.low = nn.Parameter(torch.full((branches,), _INV_SOFTPLUS_ONE))
        self.high = nn.Parameter(torch.full((branches,), _INV_SOFTPLUS_ONE))
        self.bulge = nn.Parameter(torch.full((branches, basis), -8.0))
        self.register_buffer(
            "curvatures", torch.logspace(0, 3, basis, dtype=torch.float64).to(torch.get_default_dtype())
        )

    def forward(self, T: torch.Tensor) -> torch.Tensor:
        """(..., branches) amplitudes for temperatures T (...) in K."""
        lo, hi = self.t_range
        s = ((T - lo) / (hi - lo)).unsqueeze(-1)
        c = self.curvatures
        bumps = torch.log1p(c * s.unsqueeze(-1)) / torch.log1p(c) - s.unsqueeze(-1)  # (..., 1, basis)
        ends = (1 - s) * F_.softplus(self.low) + s * F_.softplus(self.high)
        return ends + (F_.softplus(self.bulge) * bumps).sum(-1)


class FreeEnergy(nn.Module):
    """psi(F, T) in MPa; see the module docstring for the construction and its guarantees."""

    def __init__(self, config: LawConfig):
        super().__init__()
        self.config = config
        self.nets = nn.ModuleList(
            InputConvexNet(len(FEATURES[kind][1]), config.hidden, monotone=True) for kind in config.branches
        )
        self.modulation = TemperatureModulation(len(config.branches), config.t_range_k, config.modulation_basis)

    def branch_energies(self, F: torch.Tensor) -> torch.Tensor:
        """phi_k(F) >= 0, shape (..., branches)."""
        I1, I2, J = invariants(F)
        return self.lifted_branch_energies(I1, I2, J)

    def lifted_branch_energies(self, norm_f2: torch.Tensor, norm_cof2: torch.Tensor, J: torch.Tensor) -> torch.Tensor:
        """phi_k from |F|^2 (= I1), |cof F|^2 (= I2) and J given separately: the polyconvex form. As a function of
        (F, cof F, J) taken as independent variables it is convex -- what the tests check."""
        I1 = J ** (-2.0 / 3.0) * norm_f2
        I2 = J ** (-4.0 / 3.0) * norm_cof2
        inputs = {"I1": I1 - 3.0, "I2": I2.clamp(min=3.0) ** 1.5 - 3.0**1.5}
        out = []
        for kind, net in zip(self.config.branches, self.nets):
            scale, transforms = FEATURES[kind]
            x = inputs[kind] / scale
            features = torch.stack([f(x) for f in transforms], dim=-1)
            out.append(net(features) - net(torch.zeros_like(features)))
        return torch.stack(out, dim=-1)

    def mechanical(self, F: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
        """Isochoric mechanical part sum_k a_k(T) phi_k(F) (MPa)."""
        return (self.modulation(T) * self.branch_energies(F)).sum(-1)

    def thermal(self, T: torch.Tensor) -> torch.Tensor:
        c0, tr = self.config.heat_capacity, self.config.t_ref_k
        return c0 * ((T - tr) - T * torch.log(T / tr))

    def forward(self, F: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
        """Total free energy (MPa): mechanical + volumetric kappa/2 (J-1)^2 + thermal."""
        J = det3(F)
        return self.mechanical(F, T) + 0.5 * self.config.bulk_modulus * (J - 1.0) ** 2 + self.thermal(T)


class MaterialLaw:
    """A fitted law as users see it: batched torch tensors in, MPa and K out.

    ``F`` has shape (..., 3, 3) and ``T`` a shape broadcastable to ``F.shape[:-2]``.
    """

    def __init__(self, energy: FreeEnergy):
        self.energy = energy

    def _inputs(self, F, T) -> tuple[torch.Tensor, torch.Tensor]:
        dtype = next(self.energy.parameters()).dtype
        F = torch.as_tensor(F, dtype=dtype)
        check_deformation(F)
        T = torch.as_tensor(T, dtype=dtype).expand(F.shape[:-2]).clone()
        check_temperature(T, self.energy.config.t_range_k)
        return F, T

    def free_energy(self, F, T) -> torch.Tensor:
        """psi (MPa)."""
        F, T = self._inputs(F, T)
        return self.energy(F, T)

    def stress(self, F, T, create_graph: bool = False) -> torch.Tensor:
        """First Piola-Kirchhoff stress P = dpsi/dF (MPa), with the volumetric penalty for J != 1."""
        F, T = self._inputs(F, T)
        F = F.requires_grad_(True)
        (P,) = torch.autograd.grad(self.energy(F, T).sum(), F, create_graph=create_graph)
        return P

    def cauchy_stress(self, F, T) -> torch.Tensor:
        """Cauchy stress sigma = P F^T / J (MPa)."""
        F, T = self._inputs(F, T)
        return self.stress(F, T) @ F.transpose(-1, -2) / det3(F)[..., None, None]

    def entropy(self, F, T) -> torch.Tensor:
        """eta = -dpsi/dT (MPa/K = MJ m^-3 K^-1)."""
        F, T = self._inputs(F, T)
        T = T.requires_grad_(True)
        (d,) = torch.autograd.grad(self.energy(F, T).sum(), T)
        return -d

    def heat_capacity(self, F, T) -> torch.Tensor:
        """c = -T d2psi/dT2 (MPa/K)."""
        F, T = self._inputs(F, T)
        T = T.requires_grad_(True)
        (d,) = torch.autograd.grad(self.energy(F, T).sum(), T, create_graph=True)
        (d2,) = torch.autograd.grad(d.sum(), T)
        return -T.detach() * d2
