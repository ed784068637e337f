"""Affinity-model directories: ``model.safetensors`` + ``config.json``; species adapters beside them."""

from __future__ import annotations

import json
import os
from pathlib import Path

from scisft.bio.model import AffinityConfig, AffinityModel
from scisft.checkpoint import CONFIG_FILE, load_adapter, load_weights, save_model_directory
from scisft.errors import CheckpointError

KIND = "scisft-affinity"


def save_model(model: AffinityModel, directory: str | os.PathLike, info: dict | None = None) -> Path:
    return save_model_directory(model, directory, KIND, info)


def load(directory: str | os.PathLike, adapter: str | os.PathLike | None = None) -> AffinityModel:
    """A trained affinity model (eval mode, frozen), optionally with a species adapter."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"{path}: no model config; is {directory} a model directory written by scisft?")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("kind") != KIND:
            raise KeyError("kind")
        config = AffinityConfig.from_dict(raw["model"])
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{path}: not a scisft affinity-model config ({exc})") from None
    model = AffinityModel(config)
    load_weights(model, Path(directory) / "model.safetensors")
    if adapter is not None:
        load_adapter(model, adapter)
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()
