"""Readers on real data slices, unit conversions, and every kind of bad input named in the issue."""

import json

import h5py
import numpy as np
import pytest
import torch
from ase import Atoms, units
from ase.build import bulk, molecule
from ase.io import write
from torch_geometric.data import Batch

from scisft.errors import DataError
from scisft.potentials.data import fit_e0
from scisft.potentials.graph import atoms_to_graph
from scisft.potentials.readers import KCAL_MOL, labelled, read_structures, require_labels
from tests.helpers import shared_data
from tests.potentials.helpers import tiny_model


def test_rmd17_npz_in_ev():
    path = shared_data("rmd17", "rmd17_ethanol_test_01.npz")
    structures = read_structures(path)
    raw = np.load(path)
    assert len(structures) == 1000 and structures[0].get_chemical_formula() == "C2H6O"
    assert structures[5].get_potential_energy() == pytest.approx(raw["energies"][5] * KCAL_MOL)
    np.testing.assert_allclose(structures[5].get_forces(), raw["forces"][5] * KCAL_MOL)
    assert structures[5].info["source"].endswith("rmd17_ethanol_test_01.npz:5")
    assert abs(KCAL_MOL - 0.0433641) < 1e-6


def test_maml_json_stress_is_converted_to_ase_order_and_sign():
    structures = read_structures(shared_data("nbmotaw", "Mo_Elastic.json"))
    assert len(structures) == 121 and all(a.pbc.all() for a in structures)
    raw = json.loads(shared_data("nbmotaw", "Mo_Elastic.json").read_text())
    for atoms, record in zip(structures, raw):
        vasp = np.array(record["outputs"]["stress"])
        ase_voigt = atoms.get_stress()
        # VASP reports kBar, positive when compressed, order XX YY ZZ XY YZ ZX; ASE: eV/A^3, xx yy zz yz xz xy
        np.testing.assert_allclose(ase_voigt, -vasp[[0, 1, 2, 4, 5, 3]] * 0.1 * units.GPa)
    volumes = np.array([a.get_volume() for a in structures])
    pressure = np.array([-a.get_stress()[:3].mean() for a in structures])
    assert pressure[volumes.argmin()] > 0 > pressure[volumes.argmax()], "smaller cells must be under pressure"


def test_maml_json_xz():
    structures = read_structures(shared_data("nbmotaw", "NbTa_SS.json.xz"))
    assert len(structures) == 658 and set(structures[0].get_chemical_symbols()) <= {"Nb", "Ta"}


def test_extxyz_round_trip(tmp_path):
    atoms = labelled(molecule("H2O"), "x:0", energy=-14.2, forces=np.ones((3, 3)))
    write(tmp_path / "w.xyz", [atoms, atoms], format="extxyz")
    back = read_structures(tmp_path / "w.xyz")
    assert len(back) == 2 and back[1].get_potential_energy() == pytest.approx(-14.2)
    np.testing.assert_allclose(back[0].get_forces(), 1.0)


def test_ani_hdf5_in_hartree(tmp_path):
    path = tmp_path / "ani.h5"
    with h5py.File(path, "w") as f:
        g = f.create_group("gdb11_s01/gdb11_s01-0")
        g["species"] = np.array([b"C", b"H", b"H", b"H", b"H"])
        g["coordinates"] = np.stack([molecule("CH4").positions] * 3)
        g["energies"] = np.array([-40.5, -40.4, -40.3])
        g["forces"] = np.zeros((3, 5, 3))
    structures = read_structures(path)
    assert len(structures) == 3 and structures[2].get_chemical_formula() == "CH4"
    assert structures[0].get_potential_energy() == pytest.approx(-40.5 * units.Hartree)


def test_sgdml_npz_needs_units(tmp_path):
    z, R = np.array([8, 1, 1]), molecule("H2O").positions[None]
    np.savez(
        tmp_path / "with.npz", z=z, R=R, E=np.array([[-10.0]]), F=np.zeros((1, 3, 3)), e_unit="kcal/mol", r_unit="Ang"
    )
    assert read_structures(tmp_path / "with.npz")[0].get_potential_energy() == pytest.approx(-10 * KCAL_MOL)
    np.savez(tmp_path / "without.npz", z=z, R=R, E=np.array([[-10.0]]))
    with pytest.raises(DataError, match="unit-less") as err:
        read_structures(tmp_path / "without.npz")
    assert "without.npz" in str(err.value) and "e_unit" in str(err.value)


def test_truncated_and_malformed_files(tmp_path):
    source = shared_data("nbmotaw", "Mo_Elastic.json")
    (tmp_path / "cut.json").write_bytes(source.read_bytes()[:5000])
    with pytest.raises(DataError, match="cut.json.*not valid JSON"):
        read_structures(tmp_path / "cut.json")
    (tmp_path / "cut.npz").write_bytes(shared_data("rmd17", "rmd17_ethanol_test_01.npz").read_bytes()[:4000])
    with pytest.raises(DataError, match="cut.npz.*could not be read"):
        read_structures(tmp_path / "cut.npz")
    (tmp_path / "bad.xyz").write_text("3\nenergy=1.0\nC 0 0\n")
    with pytest.raises(DataError, match="bad.xyz"):
        read_structures(tmp_path / "bad.xyz")
    (tmp_path / "empty.xyz").write_text("")
    with pytest.raises(DataError, match="empty.xyz"):
        read_structures(tmp_path / "empty.xyz")
    (tmp_path / "data.csv").write_text("a,b\n")
    with pytest.raises(DataError, match="unknown file type"):
        read_structures(tmp_path / "data.csv")
    record = json.loads(source.read_text())[:2]
    del record[1]["outputs"]["energy"]
    (tmp_path / "noenergy.json").write_text(json.dumps(record))
    with pytest.raises(DataError, match=r"noenergy.json, record 1, field 'outputs.energy'"):
        read_structures(tmp_path / "noenergy.json")


def test_missing_forces_are_named(tmp_path):
    atoms = labelled(molecule("H2O"), f"{tmp_path}/f.xyz:7", energy=-1.0)
    with pytest.raises(DataError, match="record 7, field 'forces'"):
        require_labels([atoms])


@pytest.mark.parametrize(
    "atoms, message",
    [
        (Atoms(), "no atoms"),
        (Atoms("H2", positions=[[0, 0, 0], [0, 0, np.nan]]), "NaN"),
        (Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.2]]), "0.200 Angstrom apart"),
        (Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.8]], cell=[[1, 0, 0], [2, 0, 0], [0, 0, 1]], pbc=True), "singular"),
    ],
    ids=["empty", "nan", "too-close", "singular-cell"],
)
def test_bad_structures_are_refused_with_their_record(atoms, message):
    atoms.info["source"] = "data.xyz:3"
    with pytest.raises(DataError, match=message) as err:
        atoms_to_graph(atoms, 4.0)
    assert "data.xyz, record 3" in str(err.value)


def test_unknown_element_points_to_add_element():
    model = tiny_model(elements=("H", "C"))
    graph = atoms_to_graph(molecule("H2O"), 4.0, labels=False)
    with pytest.raises(DataError, match="element.*O not in the model.*add-element --element O"):
        model(Batch.from_data_list([graph]))


def test_e0_least_squares_recovers_per_element_energies():
    truth = {"H": -13.6, "O": -432.0, "C": -1030.0}
    structures = []
    for name in ("H2O", "CH4", "CO2", "C2H6", "H2O2"):
        atoms = molecule(name)
        energy = sum(truth[s] for s in atoms.get_chemical_symbols())
        structures.append(labelled(atoms, "x", energy=energy))
    e0 = fit_e0(structures, ["H", "C", "O"])
    for s, v in truth.items():
        assert e0[s] == pytest.approx(v, abs=1e-8)
    assert fit_e0(structures[:1], ["O"], fixed={"H": -13.6})["O"] == pytest.approx(-432.0)


def test_periodic_neighbour_vectors_match_distances():
    atoms = bulk("Mo", "bcc", a=3.15) * (2, 1, 1)
    graph = atoms_to_graph(atoms, 5.0, labels=False)
    i, j = graph.edge_index
    vec = graph.pos[j] - graph.pos[i] + graph.edge_shift @ graph.cell[0]
    lengths = vec.norm(dim=1)
    assert lengths.max() < 5.0 and torch.isclose(
        lengths.min(), torch.tensor(3.15 * np.sqrt(3) / 2, dtype=lengths.dtype)
    )
    assert graph.edge_index.shape[1] == 2 * (8 + 6 + 12)  # bcc shells within 5 A: 8 at 2.73, 6 at 3.15, 12 at 4.45


def test_frame_selection(tmp_path):
    frames = [labelled(molecule("H2O"), f"w:{k}", energy=float(k), forces=np.zeros((3, 3))) for k in range(10)]
    write(tmp_path / "w.xyz", frames, format="extxyz")
    path = tmp_path / "w.xyz"
    energies = lambda sel: [a.get_potential_energy() for a in read_structures(f"{path}@{sel}")]  # noqa: E731
    assert energies(":3") == [0.0, 1.0, 2.0]
    assert energies("::4") == [0.0, 4.0, 8.0]
    assert energies("7") == [7.0] and energies("-1") == [9.0]
    assert read_structures(f"{path}@5:7")[0].info["source"].endswith(":5")  # records keep their number
    with pytest.raises(DataError, match="START:STOP:STEP"):
        read_structures(f"{path}@a:b")
    with pytest.raises(DataError, match="picks no frame"):
        read_structures(f"{path}@20:30")
