"""The MD stability check: it runs, it says when bonds change, and which."""

import math
from pathlib import Path

import numpy as np
from ase.build import molecule
from ase.io import read

from scisft.potentials import save_potential
from scisft.potentials.md import bond_changes, bonds, stability_run
from tests.potentials.helpers import ethanol, tiny_model


def test_bond_changes_names_the_pairs_formed_and_broken():
    atoms = ethanol()
    start = bonds(atoms)
    symbols = atoms.get_chemical_symbols()
    o = symbols.index("O")
    hydrogen = next(k for pair in start if o in pair for k in pair if symbols[k] == "H")
    # move the hydroxyl H onto the outer side of the carbon farthest from the O: O-H broken, C-H formed
    carbon = max((k for k, s in enumerate(symbols) if s == "C"), key=lambda k: atoms.get_distance(k, o))
    outward = atoms.positions[carbon] - atoms.positions.mean(axis=0)
    atoms.positions[hydrogen] = atoms.positions[carbon] + 1.05 * outward / np.linalg.norm(outward)
    changes = bond_changes(atoms, start)
    assert any(s.startswith(f"O{o}-H{hydrogen} ") or s.startswith(f"H{hydrogen}-O{o} ") for s in changes["broken"])
    assert any(f"H{hydrogen}" in s and f"C{carbon}" in s and s.endswith("1.05 A") for s in changes["formed"])


def test_stability_run_reports_a_stable_run_and_a_broken_one(tmp_path):
    shipped = Path(__file__).resolve().parents[2] / "models" / "chn-xtb"  # the trained C/H/N model in the repo
    calm = stability_run(shipped, molecule("CH3CN"), temperature=300.0, picoseconds=0.1, nve_picoseconds=0.05)
    assert calm["bonds_intact"] and not calm["exploded"] and "bond_changes" not in calm
    assert calm["picoseconds"] == 0.1 and calm["max_temperature_K"] > 0
    assert math.isfinite(calm["nve_drift_mev_per_atom_per_ps"])
    # an untrained model does not hold ethanol together: the run stops at the first change and names it
    save_potential(tiny_model(), tmp_path / "random")
    frames = tmp_path / "md.xyz"
    frames.write_text("left over from an earlier run\n")
    broken = stability_run(
        tmp_path / "random", ethanol(), temperature=50.0, picoseconds=0.5, nve_picoseconds=0.02, trajectory=frames
    )
    assert not broken["bonds_intact"] and broken["picoseconds"] < 0.5
    assert broken["exploded"] or broken["bond_changes"]["broken"] or broken["bond_changes"]["formed"]
    # the trajectory holds this run alone, from the start to the check that caught the change, with forces
    written = read(frames, index=":")
    assert written[0].info["time_ps"] == 0.0 and bonds(written[0]) == bonds(ethanol())
    if not broken["exploded"]:
        assert written[-1].info["time_ps"] == broken["picoseconds"] and bonds(written[-1]) != bonds(written[0])
    assert written[-1].get_forces().shape == (len(ethanol()), 3)
