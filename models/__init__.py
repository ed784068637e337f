"""Models the project trains and ships (small safetensors files with a card each; see models/*/card.md)."""

import os
from pathlib import Path

from scisft.errors import CheckpointError

HERE = Path(__file__).resolve().parent


def shipped(name: str) -> Path:
    """Directory of a shipped model, e.g. ``shipped("chn-xtb")``."""
    folder = HERE / name
    if not (folder / "config.json").is_file():
        raise CheckpointError(f"no shipped model named {name!r}; shipped: {', '.join(names())}")
    return folder


def names() -> list[str]:
    """The shipped models' names."""
    return sorted(p.name for p in HERE.iterdir() if (p / "config.json").is_file())


def resolve(name_or_path: str | os.PathLike) -> Path:
    """A model directory from what a user typed: an existing path as it is, else a shipped model's name
    (``chn-rmd17``, ``chn-xtb``, ``monbta-nbmotaw``)."""
    path = Path(name_or_path)
    if path.exists():
        return path
    if (HERE / str(name_or_path) / "config.json").is_file():
        return HERE / str(name_or_path)
    raise CheckpointError(
        f"{name_or_path}: no such model directory, and no shipped model has that name; shipped: {', '.join(names())}"
    )
