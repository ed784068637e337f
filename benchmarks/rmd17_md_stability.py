"""Benchmark (issue 4): longer MD with the models that ``benchmarks.rmd17_add_oxygen`` adapted (N = 200).

Langevin dynamics at ``--temperature`` (0.5 fs steps, friction 0.01/fs) of ethanol and malonaldehyde from the first
frame of their rMD17 test splits, for ``--ps`` picoseconds with each strategy's model trained with each of
``--seeds`` (the MD's random velocities and noise use the same seed), then 1 ps NVE for the energy drift
(``scisft.potentials.md.stability_run``). Run ``rmd17_add_oxygen`` with the same profile first: this script reuses
its models and caches each result beside them, so strategies can run in separate processes.

Beside the MD, a relaxed scan probes the failure seen in malonaldehyde (an aldehyde H bridging to the central
carbon): the H is held at 2.2 ... 1.2 Angstrom from the central CH2 carbon while everything else relaxes (the report
gives the closest approach in rMD17's 500 K training frames: no model is trained closer). The highest energy on the
way, relative to the relaxed molecule, bounds the barrier of that H shift; a negative value at 1.2 Angstrom is a
spurious minimum. (It does not rank the models' MD survival: at 60 epochs gated has the lowest barrier and survives
10 ps at 500 K, LoRA + replay a higher one and breaks.)

    python -m benchmarks.rmd17_md_stability [--profile reduced] [--ps 10] [--temperature 500]
        [--strategies gated full ...] [--seeds 0 1] [--molecules ethanol malonaldehyde]

Results: benchmarks/results/rmd17_md_stability_<profile>_<ps>ps_<K>K.{json,md}, with every run that exists and,
for a model whose files are gone (its add-element result reused from the published JSON), the published rows.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from ase.constraints import FixBondLength
from ase.optimize import BFGS

from benchmarks import rmd17_add_oxygen as add_oxygen
from benchmarks.common import adapted_model, machine, markdown_table, published, write_results
from scisft.potentials.calculator import ScisftCalculator
from scisft.potentials.md import bonds

SCAN_ANGSTROM = [2.2, 2.0, 1.8, 1.6, 1.4, 1.2]


def changes(result: dict) -> str:
    found = result.get("bond_changes")
    if not found:
        return "-" if result["bonds_intact"] else "(not recorded)"
    return "; ".join([f"+{b}" for b in found["formed"]] + [f"-{b}" for b in found["broken"]])


def shift_atoms(atoms) -> tuple[int, list[int]]:
    """Malonaldehyde's central carbon and its two aldehyde hydrogens (indices), from the bonds of ``atoms``."""
    symbols = atoms.get_chemical_symbols()
    bonded = bonds(atoms)
    neighbours = {i: {j for p in bonded for j in p if i in p and j != i} for i in range(len(atoms))}
    centre = next(i for i, s in enumerate(symbols) if s == "C" and sum(symbols[j] == "C" for j in neighbours[i]) == 2)
    carbonyls = [i for i in neighbours[centre] if any(symbols[j] == "O" for j in neighbours[i])]
    return centre, [next(j for j in neighbours[c] if symbols[j] == "H") for c in carbonyls]


def closest_in_training_split() -> float:
    """Shortest aldehyde-H to central-carbon distance (Angstrom) over the 1000 frames of malonaldehyde's train split."""
    frames = add_oxygen.frames("malonaldehyde", "train", 0, 1000)
    centre, hydrogens = shift_atoms(frames[0])
    return float(min(a.get_distance(centre, h) for a in frames for h in hydrogens))


def h_shift_scan(strategy: str, seed: int) -> list[float]:
    """Relaxed energies (eV, from the relaxed molecule) with malonaldehyde's first aldehyde H held at each of
    SCAN_ANGSTROM from the central carbon; cached beside the model."""
    out = add_oxygen.run_dir(strategy, 200, seed)
    cache = out / "h_shift_scan.json"
    if cache.exists():
        return json.loads(cache.read_text())
    atoms = add_oxygen.frames("malonaldehyde", "test", 0, 1)[0]
    atoms.info.pop("source", None)
    centre, (hydrogen, _) = shift_atoms(atoms)
    model_dir, adapter = adapted_model(add_oxygen.WORK / "base", out, strategy)
    atoms.calc = ScisftCalculator(model_dir, adapter=adapter, dtype="float64")
    BFGS(atoms, logfile=None).run(fmax=0.02, steps=300)
    relaxed = atoms.get_potential_energy()
    energies = []
    for distance in SCAN_ANGSTROM:
        atoms.set_constraint()
        atoms.set_distance(centre, hydrogen, distance, fix=0)
        atoms.set_constraint(FixBondLength(centre, hydrogen))
        BFGS(atoms, logfile=None).run(fmax=0.03, steps=300)
        energies.append(float(atoms.get_potential_energy() - relaxed))
    cache.write_text(json.dumps(energies))
    return energies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", choices=list(add_oxygen.PROFILES), default="reduced")
    parser.add_argument("--ps", type=float, default=10.0, help="picoseconds of Langevin MD")
    parser.add_argument("--temperature", type=float, default=500.0, help="K")
    parser.add_argument("--strategies", nargs="+", choices=list(add_oxygen.STRATEGIES), help="default: all")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--molecules", nargs="+", default=add_oxygen.NEW, choices=add_oxygen.NEW)
    args = parser.parse_args()
    if args.profile != "full":
        add_oxygen.WORK = add_oxygen.WORK.with_name(f"rmd17_{args.profile}")
    base = add_oxygen.WORK / "base"
    strategies = args.strategies or list(add_oxygen.STRATEGIES)
    start = time.perf_counter()
    for seed in args.seeds:
        for strategy in strategies:
            if not (add_oxygen.run_dir(strategy, 200, seed) / "report.json").exists():
                raise SystemExit(
                    f"no {strategy} run with seed {seed}: run `python -m benchmarks.rmd17_add_oxygen "
                    f"--profile {args.profile}`"
                )
            h_shift_scan(strategy, seed)
            add_oxygen.molecule_md_checks(base, strategy, seed, args.ps, args.temperature, args.molecules)
    name = f"rmd17_md_stability_{args.profile}_{args.ps:g}ps_{args.temperature:g}K"
    earlier = published(name)
    old_md, old_scans = earlier.get("md", {}), earlier.get("h_shift_scan", {}).get("energies_eV", {})
    md, scans = {}, {}  # every cached result, whichever call made it
    for strategy in add_oxygen.STRATEGIES:
        for seed in sorted({int(key.split()[1]) for key in old_md} | set(args.seeds)):
            run, key = add_oxygen.run_dir(strategy, 200, seed), f"{strategy} {seed}"
            if not run.exists():  # files gone, add-element result reused from its published JSON: so are these
                md.update({key: old_md[key]} if key in old_md else {})
                scans.update({key: old_scans[key]} if key in old_scans else {})
                continue
            for molecule in add_oxygen.NEW:
                cache = run / f"md_{molecule}_{args.ps:g}ps_{args.temperature:g}K.json"
                if cache.exists():
                    md.setdefault(key, {})[molecule] = json.loads(cache.read_text())
            if (run / "h_shift_scan.json").exists():
                scans[key] = json.loads((run / "h_shift_scan.json").read_text())
    rows = [
        [
            *key.split(),
            molecule,
            f"{r['picoseconds']:.2f}",
            "yes" if r["bonds_intact"] else "NO",
            f"{r['max_temperature_K']:.0f}",
            f"{r['nve_drift_mev_per_atom_per_ps']:.3f}",
            changes(r),
        ]
        for key, per_molecule in md.items()
        for molecule, r in per_molecule.items()
    ]
    table = markdown_table(
        [
            "strategy (N=200)",
            "seed",
            "molecule",
            f"ps survived at {args.temperature:g} K",
            "bonds intact",
            "max T K",
            "NVE drift meV/atom/ps",
            "bonds formed / broken",
        ],
        rows,
    )
    scan_table = markdown_table(
        ["strategy (N=200)", "seed", *[f"{d:g} Å" for d in SCAN_ANGSTROM], "highest eV"],
        [[*key.split(), *[f"{e:+.2f}" for e in scan], f"{np.max(scan):.2f}"] for key, scan in scans.items()],
    )
    closest = closest_in_training_split()
    payload = {
        "machine": machine(),
        "profile": args.profile,
        "picoseconds": args.ps,
        "temperature_K": args.temperature,
        "md": md,
        "h_shift_scan": {"angstrom": SCAN_ANGSTROM, "energies_eV": scans, "closest_in_training_A": closest},
        "wall_time_s_this_call": time.perf_counter() - start,
    }
    text = (
        f"{table}\n\nRelaxed energy (eV) of malonaldehyde with an aldehyde H held at each distance from the "
        f"central carbon (closest in the 1000 training frames: {closest:.2f} Å):\n\n{scan_table}\n\n"
        f"Profile: {args.profile}, {args.ps:g} ps at {args.temperature:g} K\n\nMachine: {payload['machine']}"
    )
    write_results(name, payload, text)
    print(text)


if __name__ == "__main__":
    main()
