"""scisft.potentials: an E(3)-equivariant interatomic potential that can learn new elements without forgetting.

Data: ASE ``Atoms`` in (extxyz, rMD17 npz, maml JSON, ANI HDF5 readers), PyG graphs inside. Units are ASE's:
eV, Angstrom, eV/Angstrom, eV/Angstrom^3.
"""

from scisft.lazy import exports

__getattr__ = exports(
    globals(),
    {
        "scisft.potentials.calculator": ["ScisftCalculator"],
        "scisft.potentials.model": ["Potential", "PotentialConfig"],
        "scisft.potentials.readers": ["read_structures"],
        "scisft.potentials.store": ["load", "save_potential"],
    },
)
