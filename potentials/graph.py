"""From ASE ``Atoms`` to a PyG graph: neighbour list (vesin, periodic or not), checks, reference labels.

A graph holds ``pos`` (N, 3) Angstrom, ``z`` (N,) atomic numbers, ``cell`` (1, 3, 3) Angstrom (zeros when not
periodic), ``edge_index`` (2, E) with row 0 the centre atom i and row 1 its neighbour j, and ``edge_shift`` (E, 3)
integer cell shifts, so that the vector from i to j is ``pos[j] - pos[i] + edge_shift @ cell``. Labels when present:
``energy`` (1,) eV, ``forces`` (N, 3) eV/Angstrom, ``stress`` (1, 3, 3) eV/Angstrom^3 (ASE sign), with ``has_forces``
and ``has_stress`` flags so structures with and without them batch together. Graphs hold float64 (the model casts
to its own dtype): a total energy of -4000 eV in float32 is resolved only to about 0.3 meV.

The neighbour list comes from vesin (a maintained C++ cell-list code; linear in the number of atoms), not from an
O(N^2) Python loop.
"""

from __future__ import annotations

import numpy as np
import torch
import vesin
from ase import Atoms
from torch_geometric.data import Data

from scisft.errors import DataError
from scisft.potentials.readers import source_of

MIN_DISTANCE = 0.5  # Angstrom: closer than this is not a physical structure (H2's bond is 0.74)


def check_structure(atoms: Atoms, min_distance: float = MIN_DISTANCE, labels: bool = True) -> None:
    """Refuse empty structures, non-finite positions and singular periodic cells, naming the record."""
    file, record = source_of(atoms)
    if len(atoms) == 0:
        raise DataError("structure has no atoms", file=file, record=record, field="positions")
    if not np.isfinite(atoms.positions).all():
        raise DataError("positions contain NaN or inf", file=file, record=record, field="positions")
    if atoms.pbc.any():
        cell = np.asarray(atoms.cell[:])
        if not np.isfinite(cell).all() or abs(np.linalg.det(cell)) < 1e-6:
            raise DataError(
                "periodic structure with a singular or non-finite cell",
                file=file,
                record=record,
                field="cell",
                fix="give three linearly independent lattice vectors, or set pbc=False",
            )
    if labels and atoms.calc is not None:
        for key, value in atoms.calc.results.items():
            if not np.isfinite(np.asarray(value, dtype=float)).all():
                raise DataError(f"reference {key} contains NaN or inf", file=file, record=record, field=key)


def neighbour_list(atoms: Atoms, cutoff: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, shifts, distances) of all pairs closer than ``cutoff`` Angstrom (both directions)."""
    periodic = [bool(p) for p in atoms.pbc]
    box = np.asarray(atoms.cell[:], dtype=float) if any(periodic) else np.zeros((3, 3))
    calculator = vesin.NeighborList(cutoff=float(cutoff), full_list=True)
    i, j, shifts, d = calculator.compute(
        points=np.asarray(atoms.positions, dtype=float),
        box=box,
        periodic=periodic if any(periodic) else False,
        quantities="ijSd",
    )
    return i.astype(np.int64), j.astype(np.int64), shifts.astype(np.int64), d


def atoms_to_graph(atoms: Atoms, cutoff: float, min_distance: float = MIN_DISTANCE, labels: bool = True) -> Data:
    """Build the graph of one structure (see module docstring); with ``labels``, reference labels are copied."""
    check_structure(atoms, min_distance, labels)
    i, j, shifts, d = neighbour_list(atoms, cutoff)
    if len(d) and d.min() < min_distance:
        k = int(np.argmin(d))
        file, record = source_of(atoms)
        raise DataError(
            f"atoms {i[k]} and {j[k]} are {d[k]:.3f} Angstrom apart (minimum {min_distance})",
            file=file,
            record=record,
            field="positions",
            fix="the geometry is broken or in the wrong length unit",
        )
    dtype = torch.float64  # the data's precision; the model casts to its own dtype
    periodic = bool(atoms.pbc.any())
    cell = np.asarray(atoms.cell[:], dtype=float) if periodic else np.zeros((3, 3))
    graph = Data(
        pos=torch.tensor(atoms.positions, dtype=dtype),
        z=torch.tensor(atoms.numbers, dtype=torch.long),
        cell=torch.tensor(cell, dtype=dtype).unsqueeze(0),
        edge_index=torch.tensor(np.stack([i, j]), dtype=torch.long),
        edge_shift=torch.tensor(shifts, dtype=dtype),
        n_atoms=torch.tensor([len(atoms)]),
        periodic=torch.tensor([periodic]),
    )
    results = atoms.calc.results if labels and atoms.calc is not None else {}
    graph.energy = torch.tensor([float(results.get("energy", np.nan))], dtype=dtype)
    graph.has_forces = torch.tensor(["forces" in results])
    forces = results.get("forces")
    graph.forces = torch.tensor(forces if forces is not None else np.zeros((len(atoms), 3)), dtype=dtype)
    stress = results.get("stress")
    graph.has_stress = torch.tensor([stress is not None and periodic])
    voigt = np.asarray(stress if stress is not None else np.zeros(6), dtype=float)
    full = voigt[[[0, 5, 4], [5, 1, 3], [4, 3, 2]]]
    graph.stress = torch.tensor(full, dtype=dtype).unsqueeze(0)
    return graph
