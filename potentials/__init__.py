"""scisft.potentials: an E(3)-equivariant interatomic potential that can learn new elements without forgetting.

Data: ASE ``Atoms`` in (extxyz, rMD17 npz, maml JSON, ANI HDF5 readers), PyG graphs inside. Units are ASE's:
eV, Angstrom, eV/Angstrom, eV/Angstrom^3.
"""

from scisft.potentials.calculator import ScisftCalculator
from scisft.potentials.model import Potential, PotentialConfig
from scisft.potentials.readers import read_structures
from scisft.potentials.store import load, save_potential

__all__ = ["Potential", "PotentialConfig", "ScisftCalculator", "load", "read_structures", "save_potential"]
