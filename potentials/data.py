"""Training data for potentials: files -> labelled graphs, per-element reference energies, statistics."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch
from ase import Atoms
from torch_geometric.data import Batch, Data

from scisft.errors import DataError
from scisft.potentials.graph import atoms_to_graph
from scisft.potentials.readers import read_structures, require_labels


def load_structures(files: Sequence[str | os.PathLike], need_forces: bool = True) -> list[Atoms]:
    """Read and label-check every structure of ``files``, in order."""
    structures: list[Atoms] = []
    for path in files:
        found = read_structures(path)
        require_labels(found, need_forces)
        structures.extend(found)
    return structures


def to_graphs(structures: Sequence[Atoms], cutoff: float) -> list[Data]:
    """Graphs of ``structures`` with their labels (see ``scisft.potentials.graph``)."""
    return [atoms_to_graph(atoms, cutoff) for atoms in structures]


def collate(graphs: Sequence[Data]) -> Batch:
    return Batch.from_data_list(list(graphs))


def composition(structures: Sequence[Atoms], elements: Sequence[str]) -> np.ndarray:
    """(structures, elements) counts of each of ``elements`` (other elements are not counted)."""
    counts = np.zeros((len(structures), len(elements)))
    for row, atoms in enumerate(structures):
        symbols = atoms.get_chemical_symbols()
        counts[row] = [symbols.count(e) for e in elements]
    return counts


def fit_e0(
    structures: Sequence[Atoms], elements: Sequence[str], fixed: dict[str, float] | None = None
) -> dict[str, float]:
    """Per-element reference energies (eV) by least squares: E ~ sum_e n_e E0_e.

    ``fixed`` holds elements whose E0 is already known (their part is subtracted first). With fewer distinct
    compositions than unknowns (a single molecule, say) the minimum-norm solution is returned.
    """
    fixed = dict(fixed or {})
    present = sorted({s for atoms in structures for s in atoms.get_chemical_symbols()})
    stray = [s for s in present if s not in elements and s not in fixed]
    if stray:
        raise DataError(f"data contains element(s) {stray} outside {list(elements) + list(fixed)}")
    free = [s for s in elements if s not in fixed]
    energies = np.array([atoms.get_potential_energy() for atoms in structures])
    if fixed:
        energies = energies - composition(structures, list(fixed)) @ np.array(list(fixed.values()))
    if not free:
        return fixed
    solution, *_ = np.linalg.lstsq(composition(structures, free), energies, rcond=None)
    return {**fixed, **{s: float(v) for s, v in zip(free, solution)}}


def data_statistics(graphs: Sequence[Data]) -> dict[str, float]:
    """Mean number of neighbours per atom and the RMS force component (eV/Angstrom) of a training set."""
    edges = sum(g.edge_index.shape[1] for g in graphs)
    atoms = sum(g.num_nodes for g in graphs)
    forces = torch.cat([g.forces[g.has_forces.expand(g.num_nodes)] for g in graphs])
    rms = float(forces.pow(2).mean().sqrt()) if forces.numel() else 1.0
    return {"avg_num_neighbors": edges / max(atoms, 1), "force_rms": rms if rms > 0 else 1.0}


def split(items: Sequence, fraction: float, seed: int) -> tuple[list, list]:
    """Random (train, validation) split with ``fraction`` (at least one item) held out."""
    if len(items) < 2:
        raise DataError("need at least two structures to hold some out for validation; give --validation files")
    order = torch.randperm(len(items), generator=torch.Generator().manual_seed(seed)).tolist()
    n_val = min(max(1, int(round(fraction * len(items)))), len(items) - 1)
    return [items[i] for i in order[n_val:]], [items[i] for i in order[:n_val]]
