"""Property tests: whatever numbers a file holds, a reader returns only finite, in-range values or raises
scisft's own error -- never a silent NaN, inf or unit mix-up."""

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scisft.bio.tables import read_affinities
from scisft.errors import ScisftError
from scisft.materials.tables import read_tests
from scisft.potentials.readers import read_structures

ANY_FLOAT = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([1e308, -1e308, 1e999, 0.0, -0.0]),
)
FIELD = st.one_of(ANY_FLOAT.map(repr), st.sampled_from(["", "abc", "1,5", "  ", "nan", "-inf", "1e999"]))
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def read_or_refuse(reader, path, text: str):
    """What ``reader`` returns for a file holding ``text``, or None if it refused it with an error naming the file."""
    path.write_text(text)
    try:
        return reader(path)
    except ScisftError as error:
        assert str(path) in str(error)
        return None


@SETTINGS
@given(energy=ANY_FLOAT, force=ANY_FLOAT, z=ANY_FLOAT)
def test_structure_labels_are_finite_or_refused(tmp_path, energy, force, z):
    text = (
        f'2\nProperties=species:S:1:pos:R:3:forces:R:3 energy={energy!r} pbc="F F F"\n'
        f"H 0 0 0 0 0 {force!r}\nH 0 0 {z!r} 0 0 0\n"
    )
    structures = read_or_refuse(read_structures, tmp_path / "s.xyz", text)
    if structures is None:
        return
    (atoms,) = structures
    assert math.isfinite(atoms.get_potential_energy())
    assert np.isfinite(atoms.get_forces()).all() and np.isfinite(atoms.positions).all()


@SETTINGS
@given(stretch=FIELD, stress=FIELD, temperature=FIELD)
def test_material_tests_are_finite_or_refused(tmp_path, stretch, stress, temperature):
    text = f"material,temperature_C,mode,stretch,stress_MPa\nr,20,UT,1.5,0.3\nr,{temperature},UT,{stretch},{stress}\n"
    table = read_or_refuse(read_tests, tmp_path / "t.csv", text)
    if table is None:
        return
    numbers = table[["temperature_K", "stretch", "stress_MPa"]].to_numpy(dtype=float)
    assert np.isfinite(numbers).all()
    assert (table.stretch > 0).all() and (table.temperature_K > 0).all()


@SETTINGS
@given(value=FIELD)
def test_affinities_are_physical_or_refused(tmp_path, value):
    text = f"smiles,target_id,species,p_affinity\nCCO,P1,human,6.5\nc1ccccc1,P2,mouse,{value}\n"
    result = read_or_refuse(read_affinities, tmp_path / "a.csv", text)
    if result is None:
        return
    table, skipped = result
    assert np.isfinite(table.p_affinity).all() and table.p_affinity.between(0, 15).all()
    assert len(table) + sum(skipped.values()) == 2  # a dropped row is counted, never silently lost
