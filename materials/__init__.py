"""scisft.materials: thermodynamically consistent material laws that adapt to a new temperature with a few tests.

Free energies psi(F, T) (polyconvex, normalised, positive heat capacity by construction) for rubber-like solids,
flow-stress laws for hot metals, tidy tables of tests, and use in torch-fem. Units: MPa, K, 1/s.
"""

from scisft.lazy import exports

__getattr__ = exports(
    globals(),
    {
        "scisft.materials.fitting": ["adapt", "evaluate", "fit_flow", "fit_law"],
        "scisft.materials.free_energy": ["FreeEnergy", "LawConfig", "MaterialLaw"],
        "scisft.materials.store": ["FlowLaw", "load", "save_law"],
        "scisft.materials.tables": ["read_flow", "read_tests"],
    },
)
