"""The add-element unit checks: refuse what is surely not eV and Angstrom, accept real data near equilibrium."""

import numpy as np
import pytest
from ase.build import bulk, molecule
from ase.units import Bohr

from scisft.errors import DataError
from scisft.potentials.readers import labelled, read_structures
from scisft.potentials.units import check_distances, check_force_scale
from tests.helpers import shared_data


def _molecules():
    rng = np.random.default_rng(0)
    return [
        labelled(molecule(name), f"m.xyz:{k}", energy=-1.0, forces=rng.normal(0, 0.5, (len(molecule(name)), 3)))
        for k, name in enumerate(["H2O", "CH3OH", "C2H6", "CH3CHO"])
    ]


def test_molecules_and_crystals_in_angstrom_pass():
    check_distances(_molecules())
    check_distances([bulk("W", "bcc", a=3.16, cubic=True).repeat(2), bulk("Cu", "fcc", a=3.6)])


def test_positions_in_bohr_or_nm_are_refused():
    in_bohr = [a.copy() for a in _molecules()]
    for atoms in in_bohr:
        atoms.positions /= Bohr
    with pytest.raises(DataError, match="look like Bohr.*--skip-unit-check"):
        check_distances(in_bohr)
    in_nm = [a.copy() for a in _molecules()]
    for atoms in in_nm:
        atoms.positions /= 10
    with pytest.raises(DataError, match="impossible in Angstrom") as err:
        check_distances(in_nm)
    assert err.value.file == "m.xyz" and err.value.record == "0"


def test_force_scale_refuses_kcal_but_not_forces_near_equilibrium():
    structures = _molecules()  # force RMS 0.5 eV/A
    check_force_scale(structures, base_force_rms=0.5 * 20)  # 20x smaller than the base's: relaxed data, accepted
    with pytest.raises(DataError, match="force RMS of the new data"):
        check_force_scale(structures, base_force_rms=0.5 / 23)  # as if in kcal/mol/A


@pytest.mark.parametrize("name", ["W_Surface.json", "MoW_SS.json.xz"])
def test_real_tungsten_data_near_equilibrium_passes(name):
    """The sets a user tried and saw refused (force RMS about 0.02 eV/A); the base is models/monbta-nbmotaw."""
    from scisft.potentials import load

    structures = read_structures(shared_data("nbmotaw", name))
    check_force_scale(structures, float(load("monbta-nbmotaw").config.scale))
    check_distances(structures)


def test_real_molecules_pass_and_their_bohr_copy_does_not():
    structures = read_structures(f"{shared_data('rmd17', 'rmd17_ethanol_train_01.npz')}@:50")
    check_distances(structures)
    for atoms in structures:
        atoms.positions /= Bohr
    with pytest.raises(DataError, match="Bohr"):
        check_distances(structures)
