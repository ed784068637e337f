"""Readers: every supported file becomes a list of ASE ``Atoms`` with reference labels in ASE's units.

Units inside scisft.potentials (ASE's): energy eV, length Angstrom, forces eV/Angstrom, stress eV/Angstrom^3 as a
Voigt 6-vector (xx, yy, zz, yz, xz, xy) with ASE's sign (positive = tensile). Labels travel as a
``SinglePointCalculator`` on each ``Atoms``; ``atoms.info["source"]`` says "file:record".

Formats (chosen by file name):
- ``.xyz``/``.extxyz`` (optionally ``.gz``/``.bz2``/``.xz``): extended XYZ through ASE, energies in eV and forces in
  eV/Angstrom as ASE assumes.
- ``.npz``: rMD17 (keys nuclear_charges, coords, energies, forces; kcal/mol and kcal/mol/Angstrom by the dataset's
  definition) or sGDML (keys z, R, E, F with the required unit keys r_unit and e_unit).
- ``.json``/``.json.xz``: maml/pymatgen-style list of {structure, outputs: {energy, forces, stress}}: energies eV
  (per cell), forces eV/Angstrom, stress in kBar in VASP's order (XX YY ZZ XY YZ ZX) and sign (positive =
  compressive), converted to ASE's order and sign.
- ``.h5``/``.hdf5``: ANI/COMP6 layout: groups holding ``coordinates`` (frames, atoms, 3) in Angstrom, ``species``
  (symbols) or ``atomic_numbers``, ``energies`` in Hartree and optionally ``forces`` in Hartree/Angstrom.

Frame selection, as ASE's tools write it: ``FILE@START:STOP:STEP`` (Python slice, e.g. ``train.npz@:200`` the first
200 frames, ``train.npz@::5`` every fifth) or ``FILE@N`` (one frame). Records keep their number in the whole file.
"""

from __future__ import annotations

import json
import lzma
import os
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
from ase import Atoms, units
from ase.calculators.singlepoint import SinglePointCalculator

from scisft.errors import DataError

KCAL_MOL = units.kcal / units.mol  # eV
KBAR = 0.1 * units.GPa  # eV/Angstrom^3
VASP_TO_ASE_VOIGT = [0, 1, 2, 4, 5, 3]  # VASP XX YY ZZ XY YZ ZX -> ASE xx yy zz yz xz xy
ENERGY_UNITS = {"ev": 1.0, "kcal/mol": KCAL_MOL, "kj/mol": units.kJ / units.mol, "hartree": units.Hartree}
LENGTH_UNITS = {"ang": 1.0, "angstrom": 1.0, "a": 1.0, "bohr": units.Bohr, "nm": 10.0}


def source_of(atoms: Atoms) -> tuple[str | None, str | None]:
    """(file, record) from ``atoms.info["source"]`` ("file:record", set by ``labelled``); None where unknown."""
    source = atoms.info.get("source")
    if not source:
        return None, None
    file, _, record = str(source).rpartition(":")
    return file or None, record or None


def labelled(atoms: Atoms, source: str, energy=None, forces=None, stress=None) -> Atoms:
    """Attach reference labels (eV, eV/Angstrom, ASE Voigt eV/Angstrom^3) to ``atoms``."""
    results = {}
    if energy is not None:
        results["energy"] = float(energy)
        results["free_energy"] = float(energy)
    if forces is not None:
        results["forces"] = np.asarray(forces, dtype=float).reshape(len(atoms), 3)
    if stress is not None:
        results["stress"] = np.asarray(stress, dtype=float).reshape(6)
    atoms.calc = SinglePointCalculator(atoms, **results) if results else None
    atoms.info["source"] = source
    return atoms


def split_selection(path: str | os.PathLike) -> tuple[Path, slice | None]:
    """``FILE@SELECTION`` -> (FILE, a slice of its frames); a path that exists as it is has no selection."""
    text = str(path)
    if Path(text).exists() or "@" not in text:
        return Path(text), None
    file, _, selection = text.rpartition("@")
    try:
        parts = [int(p) if p.strip() else None for p in selection.split(":")]
        if not 1 <= len(parts) <= 3 or (len(parts) == 1 and parts[0] is None):
            raise ValueError
        if len(parts) == 1:
            return Path(file), slice(parts[0], None if parts[0] == -1 else parts[0] + 1)
        if len(parts) == 3 and parts[2] == 0:
            raise ValueError
        return Path(file), slice(*parts)
    except ValueError:
        raise DataError(
            f"frame selection '@{selection}' is not START:STOP:STEP or an index",
            file=file,
            fix="write e.g. FILE@:200 (first 200 frames), FILE@::5 (every fifth) or FILE@7 (one frame)",
        ) from None


def read_structures(path: str | os.PathLike) -> list[Atoms]:
    """Read every structure of a supported file, or the frames ``FILE@SELECTION`` names (see module docstring),
    labels in ASE units."""
    path, selection = split_selection(path)
    if selection is not None:
        chosen = read_structures(path)[selection]
        if not chosen:
            raise DataError(f"the frame selection {selection} picks no frame", file=path, fix="check the selection")
        return chosen
    if not path.is_file():
        raise DataError("file not found", file=path, fix="check the path")
    name = path.name.lower()
    stem = name
    for suffix in (".gz", ".bz2", ".xz"):
        stem = stem.removesuffix(suffix)
    try:
        if stem.endswith((".xyz", ".extxyz")):
            structures = _read_extxyz(path)
        elif stem.endswith(".npz"):
            structures = _read_npz(path)
        elif stem.endswith(".json"):
            structures = _read_maml_json(path)
        elif stem.endswith((".h5", ".hdf5")):
            structures = _read_ani_h5(path)
        else:
            raise DataError(
                "unknown file type",
                file=path,
                fix="use .xyz/.extxyz, .npz (rMD17/sGDML), .json[.xz] (maml) or .h5 (ANI)",
            )
    except DataError:
        raise
    except (
        OSError,
        EOFError,
        ValueError,
        KeyError,
        IndexError,
        TypeError,
        UnicodeDecodeError,
        lzma.LZMAError,
        zipfile.BadZipFile,
        NotImplementedError,
        zlib.error,
        struct.error,
    ) as exc:
        raise DataError(
            f"could not be read ({type(exc).__name__}: {exc})", file=path, fix="the file is truncated or malformed"
        ) from None
    if not structures:
        raise DataError("contains no structures", file=path)
    for i, atoms in enumerate(structures):
        _check_finite(atoms, path, i)
    return structures


def _check_finite(atoms: Atoms, path: Path, record: int) -> None:
    """Refuse NaN/inf positions, cell or labels: they would silently poison training."""
    results = atoms.calc.results if atoms.calc is not None else {}
    values = {"positions": atoms.positions, "cell": atoms.cell.array, **results}
    for field, value in values.items():
        if not np.all(np.isfinite(np.asarray(value, dtype=float))):
            raise DataError("non-finite value (NaN or inf)", file=path, record=record, field=field)


def _read_extxyz(path: Path) -> list[Atoms]:
    from ase.io import read

    try:
        frames = read(str(path), index=":", format="extxyz")
    except RuntimeError as exc:  # ASE's frame generator ends with StopIteration on a cut-off frame
        raise DataError(f"malformed frame ({exc})", file=path, fix="the file is truncated or malformed") from None
    out = []
    for i, atoms in enumerate(frames):
        calc = atoms.calc
        results = dict(calc.results) if calc is not None else {}
        energy = results.get("energy", atoms.info.get("energy"))
        forces = results.get("forces", atoms.arrays.get("forces"))
        stress = results.get("stress", atoms.info.get("stress"))
        if stress is not None:
            stress = np.asarray(stress, dtype=float)
            if stress.shape == (3, 3):
                stress = stress[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]
        out.append(labelled(atoms, f"{path}:{i}", energy, forces, stress))
    return out


def _npz_key(data, key: str, path: Path):
    if key not in data.files:
        raise DataError(f"missing key '{key}'", file=path, field=key)
    return data[key]


def _read_npz(path: Path) -> list[Atoms]:
    with np.load(path, allow_pickle=False) as data:
        keys = set(data.files)
        if {"nuclear_charges", "coords", "energies"} <= keys:  # rMD17, kcal/mol by the dataset's definition
            z, coords, energies = data["nuclear_charges"], data["coords"], data["energies"]
            forces = data["forces"] if "forces" in keys else None
            e_unit, r_unit = KCAL_MOL, 1.0
        elif {"z", "R", "E"} <= keys:  # sGDML: units are stated in the file, and required
            for unit_key in ("e_unit", "r_unit"):
                if unit_key not in keys:
                    raise DataError(
                        "unit-less sGDML file",
                        file=path,
                        field=unit_key,
                        fix="add e_unit (e.g. 'kcal/mol') and r_unit (e.g. 'Ang') to the npz",
                    )
            e_name, r_name = str(data["e_unit"]).lower(), str(data["r_unit"]).lower()
            if e_name not in ENERGY_UNITS or r_name not in LENGTH_UNITS:
                raise DataError(
                    f"unknown units e_unit={e_name!r} r_unit={r_name!r}",
                    file=path,
                    field="e_unit",
                    fix=f"use one of {sorted(ENERGY_UNITS)} and {sorted(LENGTH_UNITS)}",
                )
            z, coords, energies = data["z"], data["R"], data["E"].reshape(-1)
            forces = data["F"] if "F" in keys else None
            e_unit, r_unit = ENERGY_UNITS[e_name], LENGTH_UNITS[r_name]
        else:
            raise DataError(
                f"unknown npz layout (keys {sorted(keys)})",
                file=path,
                fix="expected rMD17 keys nuclear_charges/coords/energies/forces or sGDML keys z/R/E/F/e_unit/r_unit",
            )
        z = np.asarray(z).astype(int)
        coords = np.asarray(coords, dtype=float)
        if coords.ndim != 3 or coords.shape[1:] != (len(z), 3) or len(energies) != len(coords):
            raise DataError(
                f"coordinates of shape {coords.shape} do not fit {len(z)} atoms and {len(energies)} energies",
                file=path,
                field="coords",
            )
        out = []
        for i in range(len(coords)):
            atoms = Atoms(numbers=z, positions=coords[i] * r_unit)
            f = None if forces is None else np.asarray(forces[i], dtype=float) * e_unit / r_unit
            out.append(labelled(atoms, f"{path}:{i}", float(energies[i]) * e_unit, f))
        return out


def _open_text(path: Path):
    return lzma.open(path, "rt", encoding="utf-8") if path.name.endswith(".xz") else open(path, encoding="utf-8")


def _read_maml_json(path: Path) -> list[Atoms]:
    with _open_text(path) as handle:
        try:
            records = json.load(handle)
        except json.JSONDecodeError as exc:
            raise DataError(f"not valid JSON ({exc})", file=path, fix="the file is truncated or malformed") from None
    if not isinstance(records, list):
        raise DataError("expected a JSON list of records", file=path)
    out = []
    for i, record in enumerate(records):
        if not isinstance(record, dict) or not isinstance(record.get("structure"), dict):
            raise DataError("record has no 'structure'", file=path, record=i, field="structure")
        structure = record["structure"]
        try:
            cell = np.asarray(structure["lattice"]["matrix"], dtype=float)
            sites = structure["sites"]
            symbols = [site["species"][0]["element"] for site in sites]
            positions = np.asarray([site["xyz"] for site in sites], dtype=float)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise DataError(f"malformed structure ({exc})", file=path, record=i, field="structure") from None
        outputs = record.get("outputs") or {}
        if "energy" not in outputs:
            raise DataError("no reference energy", file=path, record=i, field="outputs.energy")
        stress = outputs.get("stress")
        if stress is not None and len(stress) == 6:
            stress = -np.asarray(stress, dtype=float)[VASP_TO_ASE_VOIGT] * KBAR
        elif stress is not None and len(stress) == 0:
            stress = None
        forces = outputs.get("forces")
        forces = None if forces is None or len(forces) == 0 else forces
        try:
            atoms = Atoms(symbols=symbols, positions=positions, cell=cell, pbc=True)
        except (KeyError, ValueError) as exc:
            raise DataError(f"bad species or positions ({exc})", file=path, record=i, field="structure.sites") from None
        out.append(labelled(atoms, f"{path}:{i}", outputs["energy"], forces, stress))
    return out


def _read_ani_h5(path: Path) -> list[Atoms]:
    import h5py

    out: list[Atoms] = []

    def visit(name: str, group) -> None:
        if not isinstance(group, h5py.Group) or "coordinates" not in group:
            return
        where = f"{path}:{name}"
        if "species" in group:
            species = [s.decode() if isinstance(s, bytes) else str(s) for s in group["species"][()]]
            atoms_kw = {"symbols": species}
        elif "atomic_numbers" in group:
            atoms_kw = {"numbers": np.asarray(group["atomic_numbers"][()]).astype(int)}
        else:
            raise DataError("group has coordinates but no species/atomic_numbers", file=path, record=name)
        if "energies" not in group:
            raise DataError("group has no energies", file=path, record=name, field="energies")
        coords = np.asarray(group["coordinates"][()], dtype=float)
        energies = np.asarray(group["energies"][()], dtype=float)
        forces = np.asarray(group["forces"][()], dtype=float) if "forces" in group else None
        for k in range(len(coords)):
            atoms = Atoms(positions=coords[k], **atoms_kw)
            f = None if forces is None else forces[k] * units.Hartree
            out.append(labelled(atoms, f"{where}:{k}", energies[k] * units.Hartree, f))

    try:
        with h5py.File(path, "r") as handle:
            handle.visititems(visit)
    except RuntimeError as exc:  # HDF5 reports a damaged file's inner structure as RuntimeError
        raise DataError(f"damaged HDF5 file ({exc})", file=path, fix="the file is truncated or corrupted") from None
    return out


def require_labels(structures: list[Atoms], need_forces: bool = True) -> None:
    """Raise a clear error for the first structure that lacks a reference energy (or forces)."""
    for atoms in structures:
        file, record = source_of(atoms)
        results = atoms.calc.results if atoms.calc is not None else {}
        if "energy" not in results:
            raise DataError(
                "no reference energy",
                file=file,
                record=record,
                field="energy",
                fix="training and evaluation need energies (eV) in every structure",
            )
        if need_forces and "forces" not in results:
            raise DataError(
                "no reference forces",
                file=file,
                record=record,
                field="forces",
                fix="training and force errors need forces (eV/Angstrom) in every structure",
            )
