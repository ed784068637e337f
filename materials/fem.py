"""The fitted free energy as a material for torch-fem (a maintained finite-element library that takes any torch
psi(F) and differentiates it with torch.func), and a uniaxial check through it.

torch-fem needs a compressible law: the volumetric term kappa/2 (J - 1)^2 of ``FreeEnergy`` (``bulk_modulus``,
default 1000 MPa for rubber-like solids, i.e. nearly incompressible) carries the pressure there, where the
incompressible load-case driver used a Lagrange multiplier instead.

torch-fem is an optional dependency (it pulls VTK, about 570 MB installed): ``pip install "scisft[fem]"``.
"""

from __future__ import annotations

import torch

from scisft.errors import ConfigError
from scisft.materials.free_energy import FreeEnergy, check_temperature


def _torchfem():
    """The torchfem package, or a clear error saying how to install it."""
    try:
        import torchfem
        import torchfem.materials
        import torchfem.mesh
    except ImportError:
        raise ConfigError(
            'the finite-element bridge needs torch-fem, an optional dependency: pip install "scisft[fem]"'
        ) from None
    return torchfem


def torchfem_material(energy: FreeEnergy, temperature_k: float):
    """A ``torchfem.materials.Hyperelastic3D`` whose energy is ``energy`` at a fixed temperature (K)."""
    Hyperelastic3D = _torchfem().materials.Hyperelastic3D

    T = torch.tensor(float(temperature_k), dtype=torch.float64)
    check_temperature(T, energy.config.t_range_k)

    def psi(F: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        return energy(F, T)

    return Hyperelastic3D(psi, torch.zeros(1, dtype=torch.float64))


def uniaxial_block(energy: FreeEnergy, temperature_k: float, stretch: float, cells: int = 2, steps: int = 5) -> float:
    """Stretch a unit cube of ``cells``^3 hexahedra along x (symmetry planes x=0, y=0, z=0; other faces free) with
    torch-fem; return the nominal stress P11 (MPa) from the reaction force on the face x = 1 (reference area 1)."""
    torchfem = _torchfem()
    Solid, cube_hexa = torchfem.Solid, torchfem.mesh.cube_hexa

    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # torch-fem builds its helper tensors in the default dtype
    try:
        nodes, elements = cube_hexa(cells + 1, cells + 1, cells + 1)
        solid = Solid(nodes, elements, torchfem_material(energy, temperature_k))
        right = nodes[:, 0] == 1.0
        for axis in range(3):
            solid.constraints[nodes[:, axis] == 0.0, axis] = True
        solid.constraints[right, 0] = True
        displacements = torch.zeros_like(nodes)
        displacements[right, 0] = stretch - 1.0
        solid.displacements = displacements
        _, forces, _, _, _ = solid.solve(increments=torch.linspace(0.0, 1.0, steps + 1), max_iter=30)
    finally:
        torch.set_default_dtype(previous)
    return float(forces[right, 0].sum())
