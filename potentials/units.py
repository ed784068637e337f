"""Checks that new data are in eV and Angstrom before a model trains on them.

Only what is surely wrong is refused; each check names what it saw and how to turn it off
(``AddElementOptions.check_units=False``, ``--skip-unit-check``) where a real data set could trip it.

- Forces: an RMS force more than ``FORCE_RATIO_LIMIT`` times the base model's training data's is almost surely in
  other units (kcal/mol/Angstrom is 23x eV/Angstrom, Hartree/Bohr 51x). Small forces are not refused: data near
  equilibrium (relaxed surfaces, solid solutions) have force RMS of 0.02 eV/Angstrom, 1/20 of an MD set's.
- Distances: each atom's nearest neighbour, divided by the sum of the two covalent radii (ASE's table). Bonded
  matter in Angstrom gives a median ratio of about 0.9-1.3; positions in Bohr read as Angstrom give 1.9x that, in
  nm 0.1x. A median above ``BOHR_LIKE`` or any pair closer than ``TOO_CLOSE`` is refused. Atoms with no neighbour
  within 3x the covalent distance (isolated atoms, a molecule's far fragments) do not count.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms
from ase.data import covalent_radii

from scisft.errors import DataError
from scisft.potentials.readers import source_of

FORCE_RATIO_LIMIT = 8.0
BOHR_LIKE = 1.6
TOO_CLOSE = 0.35
OVERRIDE = "if the data are right, turn this check off (--skip-unit-check; AddElementOptions(check_units=False))"


def check_force_scale(structures: Sequence[Atoms], base_force_rms: float) -> None:
    """Refuse forces far larger than the base model's training data's (eV/Angstrom)."""
    forces = np.concatenate([a.get_forces().ravel() for a in structures])
    rms = float(np.sqrt(np.mean(forces**2)))
    if base_force_rms > 0 and rms > FORCE_RATIO_LIMIT * base_force_rms:
        raise DataError(
            f"force RMS of the new data is {rms:.3g} eV/A, {rms / base_force_rms:.0f}x the {base_force_rms:.3g} eV/A "
            "of the base model's training data",
            file=source_of(structures[0])[0],
            field="forces",
            fix="convert the forces to eV/Angstrom (kcal/mol/A is 23x, Hartree/Bohr 51x eV/A); " + OVERRIDE,
        )


def neighbour_ratios(atoms: Atoms) -> np.ndarray:
    """Per atom: nearest-neighbour distance / sum of covalent radii (atoms without a near neighbour left out)."""
    if len(atoms) < 2:
        return np.empty(0)
    distances = atoms.get_all_distances(mic=bool(atoms.pbc.any()))
    radii = covalent_radii[atoms.numbers]
    ratio = distances / (radii[:, None] + radii[None, :])
    np.fill_diagonal(ratio, np.inf)
    nearest = ratio.min(axis=1)
    return nearest[nearest < 3.0]


def check_distances(structures: Sequence[Atoms], max_atoms: int = 300, max_structures: int = 200) -> None:
    """Refuse positions that are surely not in Angstrom (see module docstring); looks at up to ``max_structures``
    structures of at most ``max_atoms`` atoms."""
    step = max(len(structures) // max_structures, 1)
    sample = [a for a in structures[::step] if len(a) <= max_atoms]
    per_structure = [(a, neighbour_ratios(a)) for a in sample]
    ratios = np.concatenate([r for _, r in per_structure]) if per_structure else np.empty(0)
    if ratios.size == 0:
        return
    for atoms, r in per_structure:
        if r.size and r.min() < TOO_CLOSE:
            file, record = source_of(atoms)
            raise DataError(
                f"two atoms are {r.min():.2f}x their covalent distance apart: impossible in Angstrom",
                file=file,
                record=record,
                field="positions",
                fix="give positions in Angstrom (nm is 10x, pm 0.01x); " + OVERRIDE,
            )
    median = float(np.median(ratios))
    if median > BOHR_LIKE:
        raise DataError(
            f"nearest neighbours sit at {median:.2f}x their covalent distance (median over atoms; about 1 in "
            "Angstrom): the positions look like Bohr",
            file=source_of(structures[0])[0],
            field="positions",
            fix="convert positions to Angstrom (1 Bohr = 0.529 A); " + OVERRIDE,
        )
