"""Models the project trains and ships (small safetensors files with a card each; see models/*/card.md)."""

from pathlib import Path

from scisft.errors import CheckpointError

HERE = Path(__file__).resolve().parent


def shipped(name: str) -> Path:
    """Directory of a shipped model, e.g. ``shipped("chn-xtb")``."""
    folder = HERE / name
    if not (folder / "config.json").is_file():
        known = sorted(p.name for p in HERE.iterdir() if (p / "config.json").is_file())
        raise CheckpointError(f"no shipped model named {name!r}; shipped: {known or 'none'}")
    return folder
