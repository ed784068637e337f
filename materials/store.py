"""Law directories: ``law.safetensors`` + ``config.json`` (kind, architecture, provenance) + the training table.

The training table is kept beside the weights so that adapting to a new temperature can replay it (forgetting
control) without the user having to find it again. ``load(directory, adapter=...)`` returns a ``MaterialLaw`` (free
energies: ``free_energy(F, T)``, ``stress(F, T)``, ...) or a ``FlowLaw`` (``flow_stress(strain, rate, T)``).
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pandas as pd
import torch

from scisft.checkpoint import load_adapter, load_weights, package_versions, save_weights
from scisft.errors import CheckpointError
from scisft.files import atomic_path, write_json
from scisft.materials.flow import FlowConfig, FlowStress
from scisft.materials.free_energy import FreeEnergy, LawConfig, MaterialLaw
from scisft.materials.tables import validate_flow, validate_tests

WEIGHTS = "law.safetensors"
CONFIG = "config.json"
DATA = "training_data.csv"
KINDS = {"hyperelastic": (FreeEnergy, LawConfig), "flow": (FlowStress, FlowConfig)}


def kind_of(model) -> str:
    return "hyperelastic" if isinstance(model, FreeEnergy) else "flow"


def save_law(model, directory: str | os.PathLike, table: pd.DataFrame, info: dict | None = None) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_weights(model, directory / WEIGHTS, {"kind": kind_of(model)})
    with atomic_path(directory / DATA) as tmp:
        table.to_csv(tmp, index=False)
    write_json(
        directory / CONFIG,
        {
            "kind": f"scisft-material-{kind_of(model)}",
            "format_version": 1,
            "config": dataclasses.asdict(model.config),
            "info": info or {},
            "versions": package_versions(),
        },
    )
    return directory


def read_law_config(directory: str | os.PathLike) -> tuple[str, dict, dict]:
    path = Path(directory) / CONFIG
    if not path.is_file():
        raise CheckpointError(f"{path}: no law config; is {directory} a law directory written by scisft?")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        kind = raw["kind"].removeprefix("scisft-material-")
        if kind not in KINDS:
            raise KeyError(kind)
        return kind, raw["config"], raw.get("info", {})
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"{path}: not a scisft material-law config ({exc})") from None


def load_model(directory: str | os.PathLike, adapter: str | os.PathLike | None = None):
    """The raw torch module (FreeEnergy or FlowStress), float64, with an optional temperature adapter."""
    kind, config, _ = read_law_config(directory)
    cls, config_cls = KINDS[kind]
    model = cls(config_cls.from_dict(config)).to(torch.float64)
    load_weights(model, Path(directory) / WEIGHTS)
    if adapter is not None:
        load_adapter(model, adapter)
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def training_table(directory: str | os.PathLike) -> pd.DataFrame:
    kind, _, _ = read_law_config(directory)
    table = pd.read_csv(Path(directory) / DATA)
    return validate_tests(table, directory) if kind == "hyperelastic" else validate_flow(table, directory)


class FlowLaw:
    """A fitted flow-stress law: ``flow_stress(strain, rate, T)`` with rate in 1/s, T in K, result in MPa."""

    def __init__(self, model: FlowStress):
        self.model = model

    def flow_stress(self, strain, rate, T) -> torch.Tensor:
        strain, rate, T = (torch.as_tensor(v, dtype=torch.float64) for v in (strain, rate, T))
        strain, rate, T = torch.broadcast_tensors(strain, rate, T)
        with torch.no_grad():
            return self.model(strain, rate, T)


def load(directory: str | os.PathLike, adapter: str | os.PathLike | None = None) -> MaterialLaw | FlowLaw:
    """Load a fitted law (and optionally a temperature adapter) as a user-facing object (see module docstring)."""
    model = load_model(directory, adapter)
    return MaterialLaw(model) if isinstance(model, FreeEnergy) else FlowLaw(model)


__all__ = ["FlowLaw", "load", "load_model", "save_law", "training_table"]
