"""scisft.materials: thermodynamically consistent material laws that adapt to a new temperature with a few tests.

Free energies psi(F, T) (polyconvex, normalised, positive heat capacity by construction) for rubber-like solids,
flow-stress laws for hot metals, tidy tables of tests, and use in torch-fem. Units: MPa, K, 1/s.
"""

from scisft.materials.fitting import adapt, evaluate, fit_flow, fit_law
from scisft.materials.free_energy import FreeEnergy, LawConfig, MaterialLaw
from scisft.materials.store import FlowLaw, load, save_law
from scisft.materials.tables import read_flow, read_tests

__all__ = [
    "FlowLaw",
    "FreeEnergy",
    "LawConfig",
    "MaterialLaw",
    "adapt",
    "evaluate",
    "fit_flow",
    "fit_law",
    "load",
    "read_flow",
    "read_tests",
    "save_law",
]
