"""Is a potential usable for molecular dynamics? A stability run through the ASE calculator.

Langevin dynamics at ``temperature`` for ``picoseconds`` (is the molecule still bonded as it started? did it blow
up?), then a short NVE segment from that state for the total-energy drift. Bonds are pairs closer than 1.25 x the
sum of covalent radii; "intact" means the same set of bonds at every check (every 50 steps) as at the start.
With ``trajectory``, the state at the start and at every check (positions, energy, forces) is appended to an
extxyz file, so a failure can be looked at frame by frame up to the check that caught it.
"""

from __future__ import annotations

import os

import numpy as np
from ase import Atoms, units
from ase.data import covalent_radii
from ase.io import write
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import thermalize_momenta
from ase.md.verlet import VelocityVerlet

from scisft.errors import DataError
from scisft.potentials.calculator import ScisftCalculator

CHECK_EVERY = 50


def bonds(atoms: Atoms) -> set[tuple[int, int]]:
    """Covalently bonded pairs (i < j): closer than 1.25 x the sum of covalent radii."""
    radii = covalent_radii[atoms.numbers]
    d = atoms.get_all_distances(mic=bool(atoms.pbc.any()))
    i, j = np.nonzero(np.triu(d < 1.25 * (radii[:, None] + radii[None, :]), k=1))
    return set(zip(i.tolist(), j.tolist()))


def bond_changes(atoms: Atoms, start: set[tuple[int, int]]) -> dict[str, list[str]]:
    """Bonds formed and broken since ``start``, as 'H3-O7 0.98 A' (symbol, index, distance in Angstrom)."""

    def label(pair):
        i, j = pair
        s = atoms.get_chemical_symbols()
        return f"{s[i]}{i}-{s[j]}{j} {atoms.get_distance(i, j, mic=bool(atoms.pbc.any())):.2f} A"

    now = bonds(atoms)
    return {"formed": [label(p) for p in sorted(now - start)], "broken": [label(p) for p in sorted(start - now)]}


def stability_run(
    model_dir: str | os.PathLike,
    atoms: Atoms,
    adapter=None,
    temperature: float = 500.0,
    picoseconds: float = 10.0,
    timestep_fs: float = 0.5,
    nve_picoseconds: float = 1.0,
    friction_per_fs: float = 0.01,
    seed: int = 0,
    trajectory: str | os.PathLike | None = None,
) -> dict:
    """Run the stability test; returns time survived (ps), bonds intact, max temperature (K), NVE drift
    (meV/atom/ps), and, when bonds changed, which (``bond_changes``). ``trajectory``: an extxyz file to write
    (replaced if it exists) with the Langevin part's frames, one per check."""
    atoms = atoms.copy()
    atoms.info.pop("source", None)  # errors during MD are about the simulated geometry, not a file record
    atoms.calc = ScisftCalculator(model_dir, adapter=adapter, dtype="float64")
    rng = np.random.default_rng(seed)
    thermalize_momenta(atoms, temperature, rng=rng)
    start_bonds = bonds(atoms)
    dyn = Langevin(
        atoms,
        timestep_fs * units.fs,
        temperature_K=temperature,
        friction=friction_per_fs / units.fs,
        rng=rng,
        fixcm=False,  # a molecule in vacuum: centre-of-mass drift is harmless, and fixcm=True is deprecated in ASE
    )
    steps = int(round(picoseconds * 1000 / timestep_fs))
    done, intact, max_t, exploded, changes = 0, True, 0.0, False, None

    def record():
        if trajectory is not None:
            atoms.info["time_ps"] = done * timestep_fs / 1000
            write(trajectory, atoms, format="extxyz", append=True)

    if trajectory is not None and os.path.exists(trajectory):
        os.remove(trajectory)  # a new run: frames of an earlier one would read as this run's
    try:
        record()
        while done < steps:
            dyn.run(min(CHECK_EVERY, steps - done))
            done += min(CHECK_EVERY, steps - done)
            record()
            max_t = max(max_t, atoms.get_temperature())
            if bonds(atoms) != start_bonds:
                intact = False
                changes = bond_changes(atoms, start_bonds)
                break
    except DataError:  # atoms ran into each other: the neighbour check refuses the geometry
        exploded, intact = True, False
    result = {
        "picoseconds": done * timestep_fs / 1000,
        "bonds_intact": intact,
        "exploded": exploded,
        "max_temperature_K": float(max_t),
        "nve_drift_mev_per_atom_per_ps": float("nan"),
    }
    if changes is not None:
        result["bond_changes"] = changes
    if intact:
        nve = VelocityVerlet(atoms, timestep_fs * units.fs)
        energies = []
        nve.attach(lambda: energies.append(atoms.get_total_energy()), interval=10)
        try:
            nve.run(int(round(nve_picoseconds * 1000 / timestep_fs)))
        except DataError:
            result.update(exploded=True, bonds_intact=False)
            return result
        result["bonds_intact"] = bonds(atoms) == start_bonds
        if not result["bonds_intact"]:
            result["bond_changes"] = bond_changes(atoms, start_bonds)
        times = np.arange(len(energies)) * 10 * timestep_fs / 1000
        slope = np.polyfit(times, np.array(energies), 1)[0] if len(energies) > 2 else float("nan")
        result["nve_drift_mev_per_atom_per_ps"] = float(abs(slope) / len(atoms) * 1000)
    return result
