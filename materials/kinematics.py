"""Load cases and invariants: deformation gradients for the standard tests, and the stress a law gives in them.

Modes (``stretch`` is the stretch along direction 1 unless said otherwise):
- ``UT`` uniaxial tension/compression, ``ET`` equibiaxial tension, ``PS`` pure shear (planar tension, lambda_2 = 1),
- ``BT`` general biaxial (``stretch``, ``stretch2`` along 1 and 2),
- ``SS`` simple shear (``stretch`` is the amount of shear gamma; the reported stress is P12).

Incompressible materials: F = diag(l1, l2, 1/(l1 l2)) (SS: isochoric by construction) and the pressure p is the
Lagrange multiplier fixed by the traction-free face: P = dpsi/dF - p F^-T with P33 = 0. Compressible materials: the
free stretches are solved by Newton's method so that the free faces are traction-free (UT: P22 = P33 = 0; ET, PS,
BT: P33 = 0). Stresses are nominal (first Piola-Kirchhoff), in the units of psi (MPa with scisft's laws).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from scisft.errors import DataError

MODES = ("UT", "ET", "PS", "BT", "SS")
MODE_NAMES = {
    "UT": "uniaxial tension",
    "ET": "equibiaxial tension",
    "PS": "pure shear",
    "BT": "general biaxial tension",
    "SS": "simple shear",
}
EnergyFn = Callable[[torch.Tensor], torch.Tensor]  # F (..., 3, 3) -> psi (...)


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise DataError(f"unknown load mode {mode!r}", field="mode", fix=f"use one of {', '.join(MODES)}")
    return mode


def in_plane_stretches(mode: str, stretch: torch.Tensor, stretch2: torch.Tensor | None = None):
    """(lambda_1, lambda_2) prescribed by the mode (lambda_2 of UT is the incompressible lateral stretch)."""
    check_mode(mode)
    if mode == "UT":
        return stretch, stretch.rsqrt()
    if mode == "ET":
        return stretch, stretch
    if mode == "PS":
        return stretch, torch.ones_like(stretch)
    if mode == "BT":
        if stretch2 is None:
            raise DataError("mode BT needs a second stretch", field="stretch2")
        return stretch, stretch2
    raise DataError("simple shear has no in-plane stretches", field="mode")


def deformation_gradient(mode: str, stretch: torch.Tensor, stretch2: torch.Tensor | None = None) -> torch.Tensor:
    """Incompressible F (..., 3, 3) of a load case."""
    F = torch.zeros(*stretch.shape, 3, 3, dtype=stretch.dtype)
    if check_mode(mode) == "SS":
        F[..., 0, 0] = F[..., 1, 1] = F[..., 2, 2] = 1.0
        F[..., 0, 1] = stretch
        return F
    l1, l2 = in_plane_stretches(mode, stretch, stretch2)
    F[..., 0, 0], F[..., 1, 1], F[..., 2, 2] = l1, l2, 1.0 / (l1 * l2)
    return F


def cofactor(F: torch.Tensor) -> torch.Tensor:
    """cof F = det(F) F^-T in closed form (3x3), batched; differentiable, and far cheaper than LAPACK on tiny
    matrices (torch.linalg.det/inv cost milliseconds per call for a batch of 3x3 matrices on a CPU)."""
    a, b, c = F[..., 0, 0], F[..., 0, 1], F[..., 0, 2]
    d, e, f = F[..., 1, 0], F[..., 1, 1], F[..., 1, 2]
    g, h, i = F[..., 2, 0], F[..., 2, 1], F[..., 2, 2]
    rows = [
        torch.stack([e * i - f * h, f * g - d * i, d * h - e * g], -1),
        torch.stack([c * h - b * i, a * i - c * g, b * g - a * h], -1),
        torch.stack([b * f - c * e, c * d - a * f, a * e - b * d], -1),
    ]
    return torch.stack(rows, -2)


def det3(F: torch.Tensor) -> torch.Tensor:
    """det F of 3x3 matrices in closed form (batched)."""
    return (F[..., 0, :] * cofactor(F)[..., 0, :]).sum(-1)


def inverse_transpose(F: torch.Tensor) -> torch.Tensor:
    """F^-T = cof F / det F (batched 3x3)."""
    return cofactor(F) / det3(F)[..., None, None]


def invariants(F: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """I1 = tr C, I2 = (I1^2 - tr C^2)/2, J = det F, with C = F^T F."""
    C = F.transpose(-1, -2) @ F
    I1 = C.diagonal(dim1=-2, dim2=-1).sum(-1)
    I2 = 0.5 * (I1**2 - (C * C).sum((-2, -1)))
    return I1, I2, det3(F)


def isochoric_invariants(F: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Ī1 = J^(-2/3) I1 >= 3, Ī2 = J^(-4/3) I2 >= 3 (both = 3 at F = I), and J."""
    I1, I2, J = invariants(F)
    return J ** (-2.0 / 3.0) * I1, J ** (-4.0 / 3.0) * I2, J


def piola(psi: EnergyFn, F: torch.Tensor, create_graph: bool = False) -> torch.Tensor:
    """dpsi/dF by autograd, shape of F."""
    F = F if F.requires_grad else F.detach().requires_grad_(True)
    (P,) = torch.autograd.grad(psi(F).sum(), F, create_graph=create_graph)
    return P


def deformation_gradients(modes: list[str], stretch: torch.Tensor, stretch2: torch.Tensor) -> torch.Tensor:
    """Incompressible F (n, 3, 3) for rows of mixed modes (``stretch2`` is read only for BT rows)."""
    F = torch.zeros(len(modes), 3, 3, dtype=stretch.dtype)
    for mode in set(modes):
        rows = torch.tensor([k for k, m in enumerate(modes) if m == mode])
        F[rows] = deformation_gradient(mode, stretch[rows], stretch2[rows] if mode == "BT" else None)
    return F


def incompressible_stress(
    psi: EnergyFn,
    mode: str | list[str],
    stretch: torch.Tensor,
    stretch2: torch.Tensor | None = None,
    create_graph: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Nominal stresses (P11, P22) of an incompressible material in load cases (SS rows: (P12, P12)).

    ``mode`` is one mode for all rows, or a list with one mode per row (all rows then take one autograd pass).
    """
    modes = [mode] * len(stretch) if isinstance(mode, str) else list(mode)
    for m in set(modes):
        check_mode(m)
    stretch2 = stretch2 if stretch2 is not None else torch.full_like(stretch, float("nan"))
    F = deformation_gradients(modes, stretch, stretch2).requires_grad_(True)
    dpsi = piola(psi, F, create_graph)
    # pressure from the traction-free face: P33 = dpsi/dF33 - p / F33 = 0; simple shear: F^-T has no 12 entry,
    # so P12 = dpsi/dF12 whatever the pressure
    shear = torch.tensor([m == "SS" for m in modes])
    p = torch.where(shear, torch.zeros_like(F[:, 2, 2]), F[:, 2, 2] * dpsi[:, 2, 2])
    P = dpsi - p[:, None, None] * inverse_transpose(F)
    return torch.where(shear, P[:, 0, 1], P[:, 0, 0]), torch.where(shear, P[:, 0, 1], P[:, 1, 1])


def compressible_stress(
    psi: EnergyFn, mode: str, stretch: torch.Tensor, stretch2: torch.Tensor | None = None, iterations: int = 30
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(P11, P22, F) of a compressible material: the free stretches solved for traction-free faces (Newton)."""
    check_mode(mode)
    if mode == "SS":
        F = deformation_gradient("SS", stretch)
        P = piola(psi, F)
        return P[..., 0, 1], P[..., 0, 1], F
    l1 = stretch
    l2 = None if mode == "UT" else in_plane_stretches(mode, stretch, stretch2)[1]
    free = torch.ones_like(stretch)  # UT: lateral stretch (2 = 3); others: stretch 3

    def build(x: torch.Tensor) -> torch.Tensor:
        F = torch.zeros(*stretch.shape, 3, 3, dtype=stretch.dtype)
        F[..., 0, 0] = l1
        F[..., 1, 1] = x if l2 is None else l2
        F[..., 2, 2] = x
        return F

    def residual(x: torch.Tensor) -> torch.Tensor:
        return piola(psi, build(x), create_graph=True)[..., 2, 2]

    for _ in range(iterations):
        x = free.detach().requires_grad_(True)
        r = residual(x)
        (dr,) = torch.autograd.grad(r.sum(), x)
        step = r.detach() / dr.clamp(min=1e-12)
        free = (x.detach() - step).clamp(min=1e-3)
        if float(step.abs().max()) < 1e-12:
            break
    F = build(free.detach())
    P = piola(psi, F)
    return P[..., 0, 0], P[..., 1, 1], F
