"""Pretraining on one species, transfer to another, prediction and evaluation.

Transfer methods (``transfer``):
- ``adapters`` (default): drug encoder and head frozen; LoRA on the protein projection and a bottleneck adapter on
  the protein representation. With ``gated=True`` they act only on proteins of the target species (masks from
  ``AffinityModel.species_context``), so the source species' predictions stay bit-identical.
- ``full``: every weight trains (a baseline); ``scratch``: a fresh model on the target species' data alone.

Ortholog term (weight ``ortholog_weight``): for each target-species protein in a batch that has a source-species
ortholog, ``identity/100 * relu(|z - z_ortholog| - margin * |z_ortholog|)^2``, with z_ortholog the base model's
representation of the ortholog's sequence (fixed). It is zero when the representations match, pulls a protein
towards its ortholog in proportion to their sequence identity, and lets them differ by a relative ``margin`` for
free, so real differences can survive. EWC on source-species data (``ewc`` > 0) guards shared weights.

Anchor (``anchor``): with ``"own"`` a target-species protein is encoded from its own sequence; with ``"ortholog"``
it is encoded from its source-species ortholog's sequence (when the ortholog table has one with a sequence), still
flagged as the target species so the gated adapters act on it. The adapters then learn a correction on top of the
strongest zero-training baseline -- the source model run on the ortholog -- instead of re-learning the protein from
a sequence the base model never saw. Such an adapter needs the ortholog table again to predict
(``anchor_override``); its manifest says so. Measured on GtoPdb 2020.5 (benchmarks/bio_human_to_mouse.py): with a
strong ortholog term it is the best trained method when the ortholog was in pretraining, yet only ties the source
model run on the ortholog; when the ortholog was not, the own-sequence anchor does better.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F

from scisft.adapters import BottleneckConfig, LoRAConfig
from scisft.bio.data import AffinityData, DrugCache
from scisft.bio.metrics import affinity_metrics
from scisft.bio.model import AffinityConfig, AffinityModel
from scisft.bio.options import TransferOptions
from scisft.bio.sequences import tokens
from scisft.bio.store import save_model
from scisft.checkpoint import save_adapter
from scisft.errors import ConfigError
from scisft.forgetting import EWC, fisher_diagonal
from scisft.plan import Plan, Rule, trainable_report
from scisft.training import TrainConfig, Trainer, seed_everything

DEFAULT_TRAINING = {
    "epochs": 40,
    "batch_size": 64,
    "lr": 1e-3,
    "weight_decay": 1e-4,
    "patience": 8,
    "schedule": "cosine",
    "warmup_steps": 50,
}


def train_config(options: dict | None, **overrides) -> TrainConfig:
    given = {k: v for k, v in overrides.items() if v is not None}
    return TrainConfig.from_dict({**DEFAULT_TRAINING, **(options or {}), **given})


def mse(model, batch) -> tuple[torch.Tensor, dict]:
    error = model(batch) - batch["y"]
    return error.pow(2).mean(), {"rmse": float(error.detach().pow(2).mean().sqrt())}


def predict(model: AffinityModel, data: AffinityData, batch_size: int = 256) -> np.ndarray:
    was = model.training
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(data), batch_size):
            out.append(model(data.collate([data[k] for k in range(start, min(start + batch_size, len(data)))])))
    model.train(was)
    return torch.cat(out).numpy() if out else np.zeros(0)


def evaluate(model: AffinityModel, data: AffinityData) -> dict[str, float]:
    return affinity_metrics(data.y.numpy(), predict(model, data))


def _row_split(table: pd.DataFrame, fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    order = torch.randperm(len(table), generator=torch.Generator().manual_seed(seed)).tolist()
    n = max(1, int(round(fraction * len(table))))
    return table.iloc[order[n:]].reset_index(drop=True), table.iloc[order[:n]].reset_index(drop=True)


def pretrain(
    table: pd.DataFrame,
    sequences: dict[str, str],
    out_dir: str | os.PathLike,
    config: AffinityConfig | None = None,
    training: dict | None = None,
    val_fraction: float = 0.1,
    seed: int = 0,
    drugs: DrugCache | None = None,
    **overrides,
) -> tuple[AffinityModel, dict]:
    """Train an affinity model on ``table`` (random rows held out for early stopping); write a model directory."""
    config = config or AffinityConfig()
    cfg = train_config(training, seed=seed, **overrides)
    drugs = drugs or DrugCache(config.drug_encoder)
    train_rows, val_rows = _row_split(table, val_fraction, seed)
    train = AffinityData(train_rows, sequences, config, drugs, on_missing="skip")
    val = AffinityData(val_rows, sequences, config, drugs, on_missing="skip")
    seed_everything(seed)
    model = AffinityModel(config)
    result = Trainer(
        model,
        mse,
        cfg,
        Path(out_dir) / "training",
        collate=train.collate,
        validate=lambda m, d: {"loss": evaluate(m, d)["rmse"] ** 2},
    ).fit(train, val)
    summary = {
        "pairs": {"train": len(train), "validation": len(val)},
        "skipped": dict(train.skipped + val.skipped),
        "epochs": result.epochs,
        "training": result.summary(),
        "validation": evaluate(model, val),
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    save_model(model, out_dir, summary)
    return model, summary


def anchor_override(
    table: pd.DataFrame, sequences: dict[str, str], orthologs: pd.DataFrame | None, species: str = "mouse"
) -> dict[str, tuple[str, str]]:
    """For the ``"ortholog"`` anchor: target_id -> (its ortholog's sequence, ``species``) for every target of
    ``table`` whose ortholog (``orthologs``: human_id, mouse_id) has a sequence; other targets keep their own."""
    if orthologs is None:
        raise ConfigError(
            "this transfer is anchored on orthologs: give the ortholog table (--orthologs CSV human_id, mouse_id)"
        )
    pairs = orthologs.drop_duplicates("mouse_id").set_index("mouse_id")["human_id"]
    return {
        target: (sequences[pairs[target]], species)
        for target in table["target_id"].unique()
        if target in pairs.index and pairs[target] in sequences
    }


def transfer_plan(options: TransferOptions) -> Plan:
    mask = f"species_{options.species}" if options.gated else None
    return Plan(
        [
            Rule("protein.proj", LoRAConfig(rank=options.rank, mask_key=mask)),
            Rule("protein", BottleneckConfig(hidden=options.bottleneck, mask_key=mask)),
        ]
    )


def ortholog_targets(
    model: AffinityModel,
    data: AffinityData,
    orthologs: pd.DataFrame,
    sequences: dict[str, str],
    options: TransferOptions,
) -> dict[str, tuple[torch.Tensor, float]]:
    """For each target in ``data`` with an ortholog (and its sequence): the base representation of the ortholog and
    the identity weight (identity/100; 1 when the table gives none)."""
    pairs = orthologs.drop_duplicates("mouse_id").set_index("mouse_id")
    source = model.config.species.index(options.source_species)
    targets = {}
    with torch.no_grad():
        for target in data.proteins:
            if target not in pairs.index or pairs.loc[target, "human_id"] not in sequences:
                continue
            ortholog = tokens(sequences[pairs.loc[target, "human_id"]], model.config.max_length)
            z = model.encode_proteins(ortholog[None], torch.tensor([source]))[0]
            weight = (
                float(pairs.loc[target, "identity"]) / 100
                if "identity" in pairs and pd.notna(pairs.loc[target, "identity"])
                else 1.0
            )
            targets[target] = (z, weight)
    return targets


def ortholog_penalty(proteins: torch.Tensor, ids: Sequence[str], targets: dict, margin: float) -> torch.Tensor:
    terms = []
    for row, target in enumerate(ids):
        if target in targets:
            z, weight = targets[target]
            gap = (proteins[row] - z).norm() - margin * z.norm()
            terms.append(weight * F.relu(gap) ** 2)
    return torch.stack(terms).mean() if terms else proteins.new_zeros(())


def transfer(
    model: AffinityModel,
    table: pd.DataFrame,
    sequences: dict[str, str],
    out_dir: str | os.PathLike,
    options: TransferOptions | None = None,
    orthologs: pd.DataFrame | None = None,
    source_table: pd.DataFrame | None = None,
    training: dict | None = None,
    seed: int = 0,
    drugs: DrugCache | None = None,
    name: str = "to_mouse",
    base: str | None = None,
    **overrides,
) -> tuple[AffinityModel, dict]:
    """Adapt ``model`` (trained on the source species) to ``table``; writes an adapter or a model directory.
    ``base``: where ``model`` was loaded from, recorded in the adapter's manifest."""
    options = options or TransferOptions()
    cfg = train_config(training, seed=seed, **overrides)
    drugs = drugs or DrugCache(model.config.drug_encoder)
    override = anchor_override(table, sequences, orthologs, options.species) if options.anchor == "ortholog" else None
    data = AffinityData(table, sequences, model.config, drugs, on_missing="skip", sequence_override=override)
    targets = (
        ortholog_targets(model, data, orthologs, sequences, options)
        if orthologs is not None and options.ortholog_weight > 0 and options.method != "scratch"
        else {}
    )
    penalties = []
    if options.method == "scratch":
        seed_everything(seed)
        model = AffinityModel(model.config)
        report = trainable_report(model)
    elif options.method == "full":
        report = Plan(train=["*"]).apply(model, name)
    else:
        report = transfer_plan(options).apply(model, name)
    if options.ewc > 0:
        if source_table is None:
            raise ConfigError("EWC needs source-species data (--source-data) for the Fisher")
        source = AffinityData(source_table, sequences, model.config, drugs, on_missing="skip")
        batches = [
            source.collate([source[k] for k in range(s, min(s + 64, len(source)))])
            for s in range(0, min(len(source), 64 * 30), 64)
        ]
        names = [k for k, p in model.named_parameters() if "scisft_adapters" not in k]
        penalties.append(
            EWC.from_model(model, fisher_diagonal(model, batches, lambda m, b: mse(m, b)[0], names), options.ewc)
        )

    def loss(m, batch):
        pred, proteins = m.predict_with_proteins(batch)
        error = pred - batch["y"]
        total = error.pow(2).mean()
        if targets:
            total = total + options.ortholog_weight * ortholog_penalty(
                proteins, batch["protein_ids"], targets, options.margin
            )
        return total, {"rmse": float(error.detach().pow(2).mean().sqrt())}

    seed_everything(seed)
    result = Trainer(model, loss, cfg, Path(out_dir) / "training", collate=data.collate, penalties=penalties).fit(data)
    summary = {
        "method": dataclasses.asdict(options),
        "pairs": len(data),
        "skipped": dict(data.skipped),
        "ortholog_targets": len(targets),
        "anchored_targets": len(override or {}),
        "trainable": report.to_dict(),
        "epochs": result.epochs,
        "training": result.summary(),
    }
    if options.method == "adapters":
        extra = {"kind": "species", "species": options.species, "base": base or "not given", **summary}
        save_adapter(model, name, out_dir, extra=extra)
    else:
        save_model(model, out_dir, summary)
    return model, summary
