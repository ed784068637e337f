"""Tidy tables: readers of the published data, and every bad table named in the issue."""

import pandas as pd
import pytest

from scisft.errors import DataError
from scisft.materials.tables import (
    from_cann_rubber,
    from_gleeble,
    from_kawabata,
    from_steinmann,
    read_flow,
    read_tests,
)
from tests.helpers import shared_data


def test_cann_rubber_has_treloar_at_two_temperatures():
    table, skipped = from_cann_rubber(shared_data("rubber", "rubber_multiT.csv"))
    counts = table.groupby(["temperature_K", "mode"]).size().to_dict()
    assert counts == {(293.15, "ET"): 14, (293.15, "PS"): 14, (293.15, "UT"): 14, (323.15, "UT"): 15}
    assert skipped == 45  # Mooney 1940 and Blatz & Ko 1962 state no temperature
    assert table["stress_MPa"].max() == pytest.approx(10.2148, abs=1e-3)


def test_steinmann_kawabata_gleeble():
    steinmann = from_steinmann(shared_data("rubber"))
    assert sorted(steinmann["mode"].unique()) == ["ET", "PS", "UT"] and (steinmann["temperature_K"] == 293.15).all()
    kawabata = from_kawabata(shared_data("rubber", "kawabata1981", "kawabata1981_biaxial.csv"), 25.0)
    assert len(kawabata) == 117 and (kawabata["mode"] == "BT").all() and kawabata["stress2_MPa"].notna().all()
    steel = from_gleeble(shared_data("steel_hot_compression", "flow_curves_1050-1200C.csv"))
    assert len(steel) == 4 * 6 * 701
    assert sorted(steel["temperature_K"].unique() - 273.15) == pytest.approx([1050, 1100, 1150, 1200])


def write(tmp_path, name, frame: pd.DataFrame):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


GOOD = {
    "material": ["r", "r"],
    "temperature_C": [20, 20],
    "mode": ["UT", "ET"],
    "stretch": [1.5, 1.2],
    "stress_MPa": [0.3, 0.2],
}


def test_units_are_converted(tmp_path):
    table = read_tests(
        write(
            tmp_path,
            "k.csv",
            pd.DataFrame({**GOOD, "stress_MPa": [300.0, 200.0]}).rename(columns={"stress_MPa": "stress_kPa"}),
        )
    )
    assert table["stress_MPa"].tolist() == [0.3, 0.2] and table["temperature_K"].tolist() == [293.15, 293.15]
    frame = pd.DataFrame({**GOOD})
    frame["temperature"] = ["300K", "310K"]
    del frame["temperature_C"]
    assert read_tests(write(tmp_path, "t.csv", frame))["temperature_K"].tolist() == [300.0, 310.0]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"mode": ["UT", "XX"]}, "row 3, field 'mode': unknown load mode 'XX'"),
        ({"stretch": [1.5, -1.0]}, "row 3, field 'stretch': stretches must be positive"),
        ({"stretch": [1.5, "abc"]}, "row 3, field 'stretch': not a finite number"),
        ({"temperature_C": [20, -300]}, "not above absolute zero"),
        ({"mode": ["UT", "BT"]}, "mode BT needs stretch2"),
    ],
)
def test_bad_rows_are_named(tmp_path, change, message):
    with pytest.raises(DataError, match=message.replace("(", r"\(")):
        read_tests(write(tmp_path, "bad.csv", pd.DataFrame({**GOOD, **change})))


def test_missing_or_unitless_or_mixed_columns(tmp_path):
    frame = pd.DataFrame(GOOD).drop(columns="stress_MPa")
    with pytest.raises(DataError, match="field 'stress_MPa': missing column"):
        read_tests(write(tmp_path, "a.csv", frame))
    with pytest.raises(DataError, match="stress column without a unit"):
        read_tests(write(tmp_path, "b.csv", pd.DataFrame(GOOD).rename(columns={"stress_MPa": "stress"})))
    with pytest.raises(DataError, match="mixed temperature units: columns"):
        read_tests(write(tmp_path, "c.csv", pd.DataFrame({**GOOD, "temperature_K": [293.15, 293.15]})))
    mixed = pd.DataFrame(GOOD).drop(columns="temperature_C")
    mixed["temperature"] = ["20C", "300K"]
    with pytest.raises(DataError, match="mixed temperature units"):
        read_tests(write(tmp_path, "d.csv", mixed))
    bare = pd.DataFrame(GOOD).drop(columns="temperature_C")
    bare["temperature"] = [20, 20]
    with pytest.raises(DataError, match="has no unit"):
        read_tests(write(tmp_path, "e.csv", bare))
    with pytest.raises(DataError, match="strain rates must be positive"):
        read_flow(
            write(
                tmp_path,
                "f.csv",
                pd.DataFrame(
                    {"temperature_C": [1100], "strain": [0.1], "strain_rate_per_s": [0.0], "stress_MPa": [50]}
                ),
            )
        )
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="empty.csv"):
        read_tests(tmp_path / "empty.csv")
