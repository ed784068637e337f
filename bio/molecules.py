"""Small molecules: SMILES standardised with RDKit, as PyG graphs for the GNN and Morgan fingerprints.

Standardisation: parse and sanitise, keep the largest organic fragment (salts and solvents go), neutralise charges
where a neutral form exists (RDKit's rdMolStandardize), then write canonical SMILES. Two spellings of one molecule
become the same string, which is what replicate aggregation groups by.
"""

from __future__ import annotations

import numpy as np
import torch
from rdkit import Chem, RDLogger
from rdkit.Chem import rdFingerprintGenerator
from rdkit.Chem.MolStandardize import rdMolStandardize
from torch_geometric.data import Data

from scisft.errors import DataError

RDLogger.DisableLog("rdApp.*")  # RDKit's own messages: we raise errors that name the row instead

ELEMENTS = ["C", "N", "O", "S", "F", "Cl", "Br", "I", "P", "B", "Si", "Se"]
HYBRIDISATION = [Chem.HybridizationType.SP, Chem.HybridizationType.SP2, Chem.HybridizationType.SP3]
BONDS = [Chem.BondType.SINGLE, Chem.BondType.DOUBLE, Chem.BondType.TRIPLE, Chem.BondType.AROMATIC]
BOND_FEATURES = len(BONDS) + 2
FINGERPRINT_BITS = 2048
_CHOOSER = rdMolStandardize.LargestFragmentChooser(preferOrganic=True)
_UNCHARGER = rdMolStandardize.Uncharger()
_MORGAN = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=FINGERPRINT_BITS)


def standardise(smiles: str) -> str:
    """Canonical SMILES of the standardised molecule; DataError for empty or unparsable SMILES."""
    if not isinstance(smiles, str) or not smiles.strip():
        raise DataError("empty SMILES", field="smiles")
    mol = Chem.MolFromSmiles(smiles.strip())
    if mol is None:
        raise DataError(f"RDKit cannot parse SMILES {smiles[:60]!r}", field="smiles", fix="check the SMILES string")
    mol = _UNCHARGER.uncharge(_CHOOSER.choose(mol))
    return Chem.MolToSmiles(mol)


def _one_hot(value, choices) -> list[float]:
    out = [0.0] * (len(choices) + 1)
    out[choices.index(value) if value in choices else len(choices)] = 1.0
    return out


def mol_graph(smiles: str) -> Data:
    """PyG graph of a (standardised) SMILES: atom features x, bond features edge_attr, both bond directions."""
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise DataError(f"RDKit cannot parse SMILES {smiles[:60]!r}", field="smiles")
    atoms = []
    for atom in mol.GetAtoms():
        atoms.append(
            _one_hot(atom.GetSymbol(), ELEMENTS)
            + _one_hot(min(atom.GetDegree(), 5), list(range(5)))
            + _one_hot(atom.GetFormalCharge(), [-1, 0])
            + _one_hot(atom.GetHybridization(), HYBRIDISATION)
            + [float(atom.GetIsAromatic()), float(atom.IsInRing())]
            + _one_hot(min(atom.GetTotalNumHs(), 4), list(range(4)))
            + [atom.GetMass() / 100.0]
        )
    src, dst, bonds = [], [], []
    for bond in mol.GetBonds():
        feat = _one_hot(bond.GetBondType(), BONDS)[: len(BONDS)] + [
            float(bond.GetIsConjugated()),
            float(bond.IsInRing()),
        ]
        i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        src += [i, j]
        dst += [j, i]
        bonds += [feat, feat]
    return Data(
        x=torch.tensor(atoms, dtype=torch.float32),
        edge_index=torch.tensor([src, dst], dtype=torch.long).reshape(2, -1),
        edge_attr=torch.tensor(bonds, dtype=torch.float32).reshape(-1, BOND_FEATURES),
    )


ATOM_FEATURES = 34  # width of mol_graph(...).x (checked by the tests)


def fingerprint(smiles: str) -> torch.Tensor:
    """Morgan fingerprint (radius 2, 2048 bits) as a float vector."""
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise DataError(f"RDKit cannot parse SMILES {smiles[:60]!r}", field="smiles")
    return torch.from_numpy(_MORGAN.GetFingerprintAsNumPy(mol).astype(np.float32))
