"""``scisft demo --quick`` end to end, as CI runs it: the report exists and its numbers are sane."""

import json

import pytest

from scisft.cli import main
from tests.helpers import SHARED_DATA


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    data = ["--data-dir", str(SHARED_DATA)] if SHARED_DATA.is_dir() else []  # without it, parts skip
    code = main(["demo", "--quick", "--out", str(out), *data])
    return code, out, json.loads((out / "report.json").read_text())


def test_demo_runs_and_writes_the_report(report):
    code, out, result = report
    assert (out / "report.md").is_file()
    for name, part in result["parts"].items():
        assert part["status"] in ("ok", "skipped"), (name, part.get("message"))
        for figure in part.get("figures", []):
            assert (out / figure).stat().st_size > 5_000
    assert code == 0


def test_adding_oxygen_learns_and_forgets_nothing(report):
    part = report[2]["parts"]["potentials"]
    numbers = part["numbers"]
    assert numbers["test_force_mae_adapted_meV_per_A"] < numbers["test_force_mae_zero_shot_meV_per_A"]
    assert numbers["old_chemistry_max_energy_change_meV"] == 0.0
    assert all(part["checks"].values())


@pytest.mark.parametrize("name", ["bio", "materials"])
def test_other_parts_pass_their_checks_when_their_data_is_present(report, name):
    part = report[2]["parts"][name]
    if part["status"] == "skipped":
        pytest.skip(part["message"])
    assert all(part["checks"].values()), part["checks"]


def test_without_data_the_parts_skip_and_say_how_to_get_it(tmp_path, monkeypatch, capsys):
    """A new user in an empty folder, no data anywhere: bio and materials are skipped with a how-to, exit 0;
    a --data-dir that does not exist is an error before anything runs."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SCISFT_SHARED_DATA", str(tmp_path / "nothing"))
    monkeypatch.setenv("SCISFT_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["demo", "--parts", "bio", "materials", "--out", "d"]) == 0
    parts = json.loads((tmp_path / "d" / "report.json").read_text())["parts"]
    for name in ("bio", "materials"):
        assert parts[name]["status"] == "skipped" and "scisft data fetch" in parts[name]["message"]
    assert "get it with `scisft data fetch" in (tmp_path / "d" / "report.md").read_text()
    assert main(["demo", "--data-dir", "../shraed/data", "--out", "e"]) == 2
    assert "--data-dir: no such folder" in capsys.readouterr().err
    assert not (tmp_path / "e").exists()


def test_the_report_says_in_words_what_the_numbers_mean(report):
    text = (report[1] / "report.md").read_text()
    assert "bit-identical" in text and "meV/Å" in text
    bio = report[2]["parts"]["bio"]
    if bio["status"] == "ok":  # the ortholog baseline is named, whichever side wins
        assert any("ortholog" in finding for finding in bio["findings"])
