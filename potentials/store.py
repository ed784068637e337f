"""Model directories: ``model.safetensors`` (weights) + ``config.json`` (architecture, E0, statistics, provenance).

``load(directory, adapter=...)`` rebuilds the model and attaches element adapters in the order given. An element
adapter records the elements added before it (``extra.stack``); loading it onto a model with another stack is
refused, since its rows would land on the wrong element indices.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import torch

from scisft.checkpoint import CONFIG_FILE, load_adapter, load_weights, read_manifest, save_model_directory
from scisft.errors import CheckpointError
from scisft.models import resolve
from scisft.potentials.model import Potential, PotentialConfig

MODEL_FILE = "model.safetensors"
KIND = "scisft-potential"


def save_potential(model: Potential, directory: str | os.PathLike, info: dict | None = None) -> Path:
    """Write the base model (adapters are saved separately, with ``scisft.save_adapter``)."""
    return save_model_directory(model, directory, KIND, info, MODEL_FILE)


def read_config(directory: str | os.PathLike) -> tuple[PotentialConfig, dict]:
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"{path}: no model config; is {directory} a model directory written by scisft?")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(raw, dict) or raw.get("kind") != KIND or not isinstance(raw.get("model"), dict):
        raise CheckpointError(
            f"{path}: not a scisft potential config (kind {raw.get('kind') if isinstance(raw, dict) else '?'!r})"
        )
    return PotentialConfig.from_dict(raw["model"]), raw.get("info", {})


def load_element_adapter(model: Potential, directory: str | os.PathLike) -> dict:
    """Attach an element adapter directory to ``model`` and register its element; returns the manifest."""
    manifest = read_manifest(directory)
    extra = manifest["extra"]
    if extra.get("kind") != "element" or "element" not in extra:
        raise CheckpointError(f"{directory}: not an element adapter (extra.kind = {extra.get('kind')!r})")
    stack = list(extra.get("stack", []))
    have = [symbol for symbol, _ in model.added]
    if stack != have:
        raise CheckpointError(
            f"{directory}: the {extra['element']} adapter was trained on top of {stack or 'the bare base model'}, "
            f"but this model has {have or 'no added elements'}; load the adapters in the order they were made"
        )
    load_adapter(model, directory)
    model.register_element(extra["element"], manifest["adapter"])
    return manifest


def load(
    directory: str | os.PathLike,
    adapter: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
    dtype: torch.dtype | None = None,
    device: str | torch.device = "cpu",
) -> Potential:
    """Load a trained potential (a directory or a shipped model's name, ``scisft.models.resolve``), optionally with
    element adapters (one directory or a list, oldest first)."""
    directory = resolve(directory)
    config, _ = read_config(directory)
    model = Potential(config).to(dtype or torch.get_default_dtype())
    load_weights(model, Path(directory) / MODEL_FILE)
    adapters = [] if adapter is None else [adapter] if isinstance(adapter, (str, os.PathLike)) else list(adapter)
    for path in adapters:
        load_element_adapter(model, path)
    model.to(device)
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()
