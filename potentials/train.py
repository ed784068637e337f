"""Train a potential from labelled files: E0 by least squares, statistics, the core training loop, a model directory.

Options come as one mapping (a YAML file for the command line):

    model:    {channels: 32, num_layers: 3, l_max: 2, cutoff: 5.0, ...}   # see PotentialConfig
    training: {epochs: 100, batch_size: 8, lr: 0.02, patience: 30, ...}   # see scisft.TrainConfig
    loss:     {energy: 10.0, forces: 1.0, stress: 10.0}                   # see LossWeights
    validation_fraction: 0.1                                               # used without validation files
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

import yaml
from ase.data import atomic_numbers

from scisft.errors import ConfigError
from scisft.files import sha256_file, write_json
from scisft.potentials.data import collate, data_statistics, fit_e0, load_structures, split, to_graphs
from scisft.potentials.model import Potential, PotentialConfig
from scisft.potentials.objective import LossWeights, error_metrics, potential_loss
from scisft.potentials.readers import split_selection
from scisft.potentials.store import load, save_potential
from scisft.training import TrainConfig, Trainer, seed_everything

# lr: 2e-2 beat 5e-3 at a 15-minute budget on rMD17 (force MAE ethanol 19.0 vs 28.1, azobenzene 40.0 vs 63.4 meV/A;
# README, "beside mace-torch"); 5e-3 was still improving at its last epoch in every run.
DEFAULT_TRAINING = {
    "epochs": 100,
    "batch_size": 8,
    "lr": 2e-2,
    "patience": 30,
    "schedule": "cosine",
    "warmup_steps": 20,
    "ema_decay": 0.99,
}
SECTIONS = {"model", "training", "loss", "validation_fraction"}


def read_options(path: str | os.PathLike | None) -> dict:
    """Read a YAML options file (sections: model, training, loss, validation_fraction)."""
    if path is None:
        return {}
    try:
        options = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read options ({exc})") from None
    if not isinstance(options, dict) or set(options) - SECTIONS:
        raise ConfigError(f"{path}: expected a mapping with (only) the sections {sorted(SECTIONS)}")
    return options


def loss_weights(options: dict) -> LossWeights:
    try:
        return LossWeights(**options.get("loss", {}))
    except TypeError as exc:
        raise ConfigError(f"loss options: {exc}; known: energy, forces, stress") from None


def train_config(options: dict, **overrides) -> TrainConfig:
    values = {
        **DEFAULT_TRAINING,
        **options.get("training", {}),
        **{k: v for k, v in overrides.items() if v is not None},
    }
    return TrainConfig.from_dict(values)


def describe_files(files: Sequence[str | os.PathLike]) -> list[dict]:
    """Each file (with its frame selection, if any) and the SHA-256 of the whole file."""
    return [{"path": str(f), "sha256": sha256_file(split_selection(f)[0])} for f in files]


def train_potential(
    data: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    validation: Sequence[str | os.PathLike] | None = None,
    options: dict | None = None,
    base: str | os.PathLike | None = None,
    **training_overrides,
) -> dict:
    """Train a potential on ``data`` and write a model directory to ``out_dir``; returns the summary it saves.
    With ``base`` (a model directory or a shipped model's name), fine-tune that model's weights (all but its E0)
    instead of starting from random ones; its architecture is kept and the data may hold only its elements."""
    options = options or {}
    out_dir = Path(out_dir)
    cfg = train_config(options, **training_overrides)
    weights = loss_weights(options)
    structures = load_structures(data)
    if validation:
        val_structures = load_structures(validation)
    else:
        structures, val_structures = split(structures, float(options.get("validation_fraction", 0.1)), cfg.seed)
    elements = sorted({s for a in structures for s in a.get_chemical_symbols()}, key=lambda s: atomic_numbers[s])
    seed_everything(cfg.seed)
    if base is not None:
        model = _fine_tuning_start(base, elements, options)
        cutoff = model.config.cutoff
        train_graphs, val_graphs = to_graphs(structures, cutoff), to_graphs(val_structures, cutoff)
    else:
        model_options = dict(options.get("model", {}))
        cutoff = float(model_options.get("cutoff", PotentialConfig.cutoff))
        train_graphs, val_graphs = to_graphs(structures, cutoff), to_graphs(val_structures, cutoff)
        stats = data_statistics(train_graphs)
        model_options.setdefault("avg_num_neighbors", stats["avg_num_neighbors"])
        model_options.setdefault("scale", stats["force_rms"])
        config = PotentialConfig(elements=elements, e0=fit_e0(structures, elements), **model_options)
        model = Potential(config)
    model.e0.weight.requires_grad_(False)
    start = time.perf_counter()
    trainer = Trainer(model, lambda m, b: potential_loss(m, b, weights), cfg, out_dir / "training", collate=collate)
    result = trainer.fit(train_graphs, val_graphs)
    summary = {
        "fine_tuned_from": None if base is None else str(base),
        "data": describe_files(data),
        "validation_data": describe_files(validation) if validation else "random split of data",
        "structures": {"train": len(train_graphs), "validation": len(val_graphs)},
        "parameters": sum(p.numel() for p in model.parameters()),
        "training": {
            **result.summary(),
            "wall_time_s": time.perf_counter() - start,
            "config": cfg.__dict__,
        },
        "loss_weights": weights.__dict__,
        "metrics": {"validation": error_metrics(model, val_graphs)},
    }
    save_potential(model, out_dir, summary)
    write_json(out_dir / "training" / "summary.json", summary)
    return summary


def _fine_tuning_start(base: str | os.PathLike, elements: list[str], options: dict) -> Potential:
    """The base model with every weight trainable, after checking that the data fit it."""
    if options.get("model"):
        raise ConfigError("fine-tuning keeps the base model's architecture: leave out the options' model section")
    model = load(base)
    stray = sorted(set(elements) - set(model.elements))
    if stray:
        raise ConfigError(
            f"the data hold {', '.join(stray)}, which the base model {base} does not know "
            f"({', '.join(model.elements)}); add a new element with `scisft potentials add-element`"
        )
    if model.added:
        raise ConfigError(f"{base}: fine-tune a model without element adapters")
    for p in model.parameters():
        p.requires_grad_(True)
    return model.train()
