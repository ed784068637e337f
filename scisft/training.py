"""The one training loop every plugin uses.

    trainer = Trainer(model, loss_fn, TrainConfig(epochs=50, lr=1e-3), out_dir="run", collate=collate)
    result = trainer.fit(train_items, val_items)

``loss_fn(model, batch)`` returns a scalar loss or ``(loss, {name: float})``; it must reduce by the mean over the
batch (so data-parallel training matches one process with the same global batch). Only parameters with
``requires_grad`` train (set by a ``Plan``); ``penalties`` (EWC, L2-SP ...) are added to the loss.

What it does: AdamW; learning-rate schedule (cosine with warmup, plateau, or constant) stepped per batch (plateau:
per epoch); gradient clipping; optional EMA of the trainable weights with warm-up, decay min(d, (1+t)/(10+t)) at step t
(used for validation and the result); early
stopping on validation loss (the best weights are restored at the end); a divergence guard (below); a JSON-lines
metrics log; a line per epoch on stderr (losses, the best epoch, time spent and an estimate of the time left;
``progress=False`` silences it) and progress bars on a terminal (quiet when stderr is not a terminal or ``CI`` is
set); checkpoint/resume (wall time in the metrics log and the result counts every session of a resumed run).

Divergence guard: Adam takes steps of about the learning rate whatever the gradient's size, so gradient clipping
does not stop a run at a high learning rate from leaving a good minimum. When an epoch's validation loss is
non-finite or exceeds ``rollback_factor`` x the best so far, the weights (and EMA) and the optimizer's moments go
back to the best epoch's and the learning rate is halved for the rest of the run; the epoch's metrics record says
so (``rolled_back_to``). Seen on NbMoTaW adding W with the gated adapters at lr 4e-2: training loss 0.0125 -> 5.1
within one epoch, and the validation force RMSE never recovered. A run whose validation loss never jumps is
bit-identical with and without the guard.

Determinism and resume: batch order depends only on (seed, epoch) and randomness inside a step (dropout) is seeded
from (seed, step), so a run killed at any point and resumed from its last checkpoint ends with the same weights as
an uninterrupted run on the same CPU. Checkpoints are one safetensors file (state as JSON in its metadata), written
atomically; a step with a non-finite loss or gradient is skipped, never applied.

Data parallel: under ``torchrun`` each global batch of ``batch_size`` items is split across the ranks and the model
is wrapped in ``DistributedDataParallel``; rank 0 writes the files.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn
from tqdm.auto import tqdm

from scisft import distributed
from scisft.checkpoint import read_tensors
from scisft.errors import CheckpointError, ConfigError, ScisftError
from scisft.files import atomic_path, write_text

CHECKPOINT_FILE = "checkpoint.safetensors"
METRICS_FILE = "metrics.jsonl"
SCHEDULES = ("cosine", "plateau", "constant")


@dataclass
class TrainConfig:
    """Training options. lr in 1/step units of AdamW; patience in epochs; checkpoint_every in steps (0: per epoch);
    time_limit_s: stop after the epoch in which this much wall time has passed (the best weights are kept);
    device: where training runs ("cpu", "cuda", "cuda:1"; None: where the model is); the model returns to its own
    device at the end. Under torchrun, "cuda" means each process's LOCAL_RANK GPU. rollback_factor: the divergence
    guard's threshold on validation loss / best validation loss (None: no guard; needs validation data).
    progress: None shows a line per epoch and, on a terminal, a progress bar; False shows nothing; True both."""

    epochs: int = 100
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 0.0
    schedule: str = "cosine"
    warmup_steps: int = 0
    min_lr_ratio: float = 0.01
    grad_clip: float | None = 10.0
    ema_decay: float | None = None
    patience: int | None = None
    seed: int = 0
    checkpoint_every: int = 0
    progress: bool | None = None
    max_bad_steps: int = 20
    time_limit_s: float | None = None
    device: str | None = None
    rollback_factor: float | None = 10.0

    def __post_init__(self):
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"training: schedule {self.schedule!r} unknown; choose one of {SCHEDULES}")
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ConfigError("training: epochs and batch_size must be >= 1 and lr > 0")
        if self.ema_decay is not None and not 0.0 < self.ema_decay < 1.0:
            raise ConfigError(f"training: ema_decay must be in (0, 1), got {self.ema_decay}")
        if self.rollback_factor is not None and not self.rollback_factor > 1.0:
            raise ConfigError(f"training: rollback_factor must be > 1 (or None: no guard), got {self.rollback_factor}")
        if self.device is not None:
            try:
                device = torch.device(self.device)
            except RuntimeError:
                raise ConfigError(
                    f"training: device {self.device!r} is not a torch device; use e.g. cpu, cuda, cuda:1"
                ) from None
            if device.type == "cuda" and not torch.cuda.is_available():
                raise ConfigError(
                    f"training: device {self.device!r} asked for, but this torch ({torch.__version__}) sees no CUDA "
                    "GPU; install a CUDA build of torch or train on cpu"
                )

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"training: unknown option(s) {unknown}; known: {sorted(known)}")
        return cls(**values)


@dataclass
class TrainResult:
    """What a fit did: epochs and steps run, best validation loss and its epoch, the per-epoch history.
    wall_time_s counts every session of a resumed run; resumed_after_s is the part spent before this session."""

    epochs: int
    steps: int
    best_val: float | None
    best_epoch: int
    stopped_early: bool
    skipped_steps: int
    wall_time_s: float
    history: list[dict] = field(default_factory=list)
    resumed_after_s: float = 0.0

    @property
    def rollbacks(self) -> list[int]:
        """The epochs after which the divergence guard went back to the best weights."""
        return [h["epoch"] for h in self.history if "rolled_back_to" in h]

    def summary(self) -> dict:
        """The numbers a report shows: epochs, steps, best epoch, early stop, rollbacks."""
        return {
            "epochs": self.epochs,
            "steps": self.steps,
            "best_epoch": self.best_epoch,
            "stopped_early": self.stopped_early,
            "rollbacks": self.rollbacks,
            "wall_time_s": self.wall_time_s,
            "resumed_after_s": self.resumed_after_s,
        }


@contextlib.contextmanager
def torch_threads(n: int):
    """Run a block with ``n`` intra-op threads, then restore the previous number.

    Tiny models (material laws: a few hundred parameters, tensors of a few dozen rows) gain nothing from threads,
    and on a machine whose cores are busy, two threads made such a fit 15x slower than one (measured here).
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch."""
    import random

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def epoch_batches(n: int, batch_size: int, seed: int, epoch: int, rank: int = 0, world: int = 1) -> list[list[int]]:
    """This rank's share of each global batch of one epoch; the order depends only on (seed, epoch)."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch)).tolist()
    batches = [order[i : i + batch_size] for i in range(0, n, batch_size)]
    return [b[rank::world] for b in batches]


def _split_loss(out) -> tuple[torch.Tensor, dict[str, float]]:
    if isinstance(out, tuple):
        return out[0], dict(out[1])
    return out, {}


def mean_loss(model: nn.Module, data: Sequence, loss_fn: Callable, collate: Callable, batch_size: int) -> dict:
    """Validation by default: the loss (and metrics) averaged over ``data``, weighted by batch size."""
    was_training = model.training
    model.eval()
    sums: dict[str, float] = {}
    count = 0
    for start in range(0, len(data), batch_size):
        items = [data[i] for i in range(start, min(start + batch_size, len(data)))]
        loss, metrics = _split_loss(loss_fn(model, collate(items)))
        for key, value in {"loss": float(loss.detach()), **metrics}.items():
            sums[key] = sums.get(key, 0.0) + float(value) * len(items)
        count += len(items)
    model.train(was_training)
    return {k: v / max(count, 1) for k, v in sums.items()}


def training_device(name: str | None, world: int) -> torch.device | None:
    """The device ``TrainConfig.device`` names (None stays None); under torchrun a bare "cuda" is this process's
    LOCAL_RANK GPU."""
    if name is None:
        return None
    device = torch.device(name)
    if device.type == "cuda" and device.index is None and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return device


def to_device(batch, device: torch.device):
    """``batch`` with its tensors on ``device``: anything with ``.to`` (tensors, PyG batches), inside dicts, lists
    and tuples; other values as they are."""
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device) for v in batch)
    return batch.to(device) if hasattr(batch, "to") else batch


def _show_progress(setting: bool | None) -> bool:
    if setting is not None:
        return setting
    return sys.stderr.isatty() and not os.environ.get("CI")


def _duration(seconds: float) -> str:
    """'42s', '3m05s' or '1h02m'."""
    seconds = max(int(round(seconds)), 0)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def epoch_line(record: dict, epochs: int, best_epoch: int, seconds_per_epoch: float) -> str:
    """One line for an epoch's record: epoch, train loss, validation metrics, best epoch, time spent and left."""
    parts = [f"epoch {record['epoch'] + 1}/{epochs}", f"train loss {record['train_loss']:.4g}"]
    parts += [f"{k} {v:.4g}" for k, v in record.items() if k.startswith("val_")]
    if best_epoch >= 0:
        parts.append(f"best epoch {best_epoch + 1}")
    if "rolled_back_to" in record:
        parts.append(f"diverged: back to epoch {record['rolled_back_to'] + 1} at half the lr")
    left = (epochs - record["epoch"] - 1) * seconds_per_epoch
    parts.append(f"{_duration(record['time_s'])} so far, at most ~{_duration(left)} left")
    return "  ".join(parts)


class Trainer:
    """Fits the trainable parameters of ``model`` (see module docstring)."""

    def __init__(
        self,
        model: nn.Module,
        loss_fn: Callable,
        config: TrainConfig,
        out_dir: str | os.PathLike | None = None,
        *,
        collate: Callable = list,
        penalties: Sequence[Callable[[nn.Module], torch.Tensor]] = (),
        validate: Callable[[nn.Module, Sequence], dict] | None = None,
    ):
        self.model, self.loss_fn, self.config = model, loss_fn, config
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.collate, self.penalties, self.validate = collate, list(penalties), validate
        self.names = [k for k, p in model.named_parameters() if p.requires_grad]
        if not self.names:
            raise ConfigError("training: the model has no trainable parameters; apply a plan first")
        self.params = dict(model.named_parameters())
        self.trainable = [self.params[k] for k in self.names]
        self.optimizer = torch.optim.AdamW(self.trainable, lr=config.lr, weight_decay=config.weight_decay)

    # -- schedule ---------------------------------------------------------------------------------------------
    def _scheduler(self, total_steps: int):
        cfg = self.config
        if cfg.schedule == "plateau":
            return torch.optim.lr_scheduler.ReduceLROnPlateau(
                self.optimizer, factor=0.5, patience=max((cfg.patience or 20) // 4, 2), min_lr=cfg.lr * cfg.min_lr_ratio
            )

        def factor(step: int) -> float:
            if step < cfg.warmup_steps:
                return (step + 1) / cfg.warmup_steps
            if cfg.schedule == "constant":
                return 1.0
            progress = min((step - cfg.warmup_steps) / max(total_steps - cfg.warmup_steps, 1), 1.0)
            return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

        return torch.optim.lr_scheduler.LambdaLR(self.optimizer, factor)

    # -- checkpoint -------------------------------------------------------------------------------------------
    def _snapshot(self) -> dict[str, torch.Tensor]:
        return {k: self.params[k].detach().clone() for k in self.names}

    def _save(self, state: dict, scheduler, ema: dict | None, best: dict, best_moments: dict) -> None:
        if self.out_dir is None or not distributed.is_main():
            return
        tensors = {f"param.{k}": self.params[k].detach().cpu().contiguous() for k in self.names}
        tensors.update({f"best.{k}": v.cpu().contiguous() for k, v in best.items()})
        if ema is not None:
            tensors.update({f"ema.{k}": v.cpu().contiguous() for k, v in ema.items()})
        opt = self.optimizer.state_dict()
        meta = {
            **state,
            "names": self.names,
            "config": dataclasses.asdict(self.config),
            "optimizer": {
                "scalars": _flatten_moments(opt["state"], "optim", tensors),
                "param_groups": opt["param_groups"],
            },
            "best_optimizer_scalars": _flatten_moments(best_moments, "best_optim", tensors),
            "scheduler": scheduler.state_dict(),
        }
        with atomic_path(self.out_dir / CHECKPOINT_FILE) as tmp:
            save_file(tensors, str(tmp), metadata={"scisft_train_state": json.dumps(meta)})
        lines = "".join(json.dumps(r) + "\n" for r in state["history"])
        write_text(self.out_dir / METRICS_FILE, lines)

    def _load(self, path: Path, scheduler, ema: dict | None, best: dict, best_moments: dict) -> dict:
        tensors, meta = read_tensors(path)
        try:
            saved = json.loads(meta["scisft_train_state"])
        except (KeyError, json.JSONDecodeError):
            raise CheckpointError(f"{path}: not a scisft training checkpoint (no readable state)") from None
        if saved["names"] != self.names:
            raise CheckpointError(
                f"{path}: was written for other trainable parameters; resume with the same model and plan, "
                "or start in a new output directory"
            )
        for key in ("batch_size", "seed", "epochs"):
            if saved["config"][key] != getattr(self.config, key):
                raise CheckpointError(
                    f"{path}: was written with {key}={saved['config'][key]}, this run has {getattr(self.config, key)}; "
                    "resume with the same settings or start in a new output directory"
                )
        with torch.no_grad():
            for k in self.names:
                self.params[k].copy_(tensors[f"param.{k}"])
                best[k] = tensors[f"best.{k}"].to(self.params[k])
                if ema is not None:
                    ema[k] = tensors[f"ema.{k}"].to(self.params[k])
        opt_state = _gather_moments(tensors, "optim", saved["optimizer"]["scalars"])
        self.optimizer.load_state_dict({"state": opt_state, "param_groups": saved["optimizer"]["param_groups"]})
        best_moments.clear()
        best_moments.update(_gather_moments(tensors, "best_optim", saved.get("best_optimizer_scalars", {})))
        scheduler.load_state_dict(saved["scheduler"])
        return {k: saved[k] for k in _STATE_KEYS}

    # -- divergence guard -------------------------------------------------------------------------------------
    def _moments(self) -> dict[int, dict]:
        """A copy of the optimizer's per-parameter state (Adam's moments and step counts)."""
        return _copy_moments(self.optimizer.state_dict()["state"])

    def _roll_back(self, best: dict, best_moments: dict, ema: dict | None, scheduler) -> None:
        """Back to the best epoch's weights and optimizer moments, at half the learning rate from now on."""
        with torch.no_grad():
            for k in self.names:
                self.params[k].copy_(best[k])
                if ema is not None:
                    ema[k].copy_(best[k])
        groups = self.optimizer.state_dict()["param_groups"]
        self.optimizer.load_state_dict({"state": _copy_moments(best_moments), "param_groups": groups})
        for group in self.optimizer.param_groups:
            group["lr"] *= 0.5
        if isinstance(scheduler, torch.optim.lr_scheduler.LambdaLR):
            scheduler.base_lrs = [lr * 0.5 for lr in scheduler.base_lrs]

    # -- the loop ---------------------------------------------------------------------------------------------
    def fit(self, train_data: Sequence, val_data: Sequence | None = None, resume: bool = True) -> TrainResult:
        """Train; with ``resume`` and a checkpoint in ``out_dir``, continue where it stopped."""
        cfg = self.config
        if len(train_data) == 0:
            raise ConfigError("training: the training set is empty")
        rank, world = distributed.setup()
        start_time = time.perf_counter()
        home = next(self.model.parameters()).device
        device = training_device(cfg.device, world)
        if device is not None:
            self.model.to(device)

        def collate(items):
            batch = self.collate(items)
            return batch if device is None else to_device(batch, device)

        validate = self.validate or (lambda m, d: mean_loss(m, d, self.loss_fn, collate, cfg.batch_size))
        steps_per_epoch = math.ceil(len(train_data) / cfg.batch_size)
        scheduler = self._scheduler(cfg.epochs * steps_per_epoch)
        ema = self._snapshot() if cfg.ema_decay else None
        best = self._snapshot()
        best_moments = self._moments()
        state = {
            "epoch": 0,
            "batch": 0,
            "step": 0,
            "best_val": None,
            "best_epoch": -1,
            "bad_epochs": 0,
            "skipped": 0,
            "stopped_early": False,
            "loss_sum": 0.0,
            "loss_count": 0,
            "history": [],
        }
        ckpt = self.out_dir / CHECKPOINT_FILE if self.out_dir is not None else None
        if resume and ckpt is not None and ckpt.exists():
            state = self._load(ckpt, scheduler, ema, best, best_moments)
        earlier_s = state["history"][-1]["time_s"] if state["history"] else 0.0  # sessions before this one
        first_epoch = state["epoch"]
        net = self.model
        if world > 1:
            net = torch.nn.parallel.DistributedDataParallel(self.model, find_unused_parameters=True)
        show = _show_progress(cfg.progress) and rank == 0
        lines = cfg.progress is not False and rank == 0
        bad_in_a_row = 0
        while state["epoch"] < cfg.epochs and not state["stopped_early"]:
            epoch = state["epoch"]
            if hasattr(train_data, "set_epoch"):
                train_data.set_epoch(epoch)
            batches = epoch_batches(len(train_data), cfg.batch_size, cfg.seed, epoch, rank, world)
            self.model.train()
            bar = tqdm(total=len(batches), initial=state["batch"], disable=not show, leave=False, desc=f"epoch {epoch}")
            for b in range(state["batch"], len(batches)):
                torch.manual_seed(cfg.seed * 1_000_003 + state["step"])
                loss, _ = _split_loss(self.loss_fn(net, collate([train_data[i] for i in batches[b]])))
                total = loss + sum((p(self.model) for p in self.penalties), torch.zeros((), dtype=loss.dtype))
                self.optimizer.zero_grad(set_to_none=True)
                ok = bool(torch.isfinite(total))
                if ok:
                    total.backward()
                    norm = torch.nn.utils.clip_grad_norm_(self.trainable, cfg.grad_clip or float("inf"))
                    ok = bool(torch.isfinite(norm))
                if ok:
                    self.optimizer.step()
                    if cfg.schedule != "plateau":
                        scheduler.step()
                    if ema is not None:
                        # warm-up: early on the average follows the weights closely (TensorFlow's schedule)
                        decay = min(cfg.ema_decay, (1 + state["step"]) / (10 + state["step"]))
                        with torch.no_grad():
                            for k in self.names:
                                ema[k].lerp_(self.params[k].detach(), 1 - decay)
                    state["loss_sum"] += float(loss.detach())
                    state["loss_count"] += 1
                    bad_in_a_row = 0
                else:
                    self.optimizer.zero_grad(set_to_none=True)
                    state["skipped"] += 1
                    bad_in_a_row += 1
                    if bad_in_a_row >= cfg.max_bad_steps:
                        raise ScisftError(
                            f"training: {bad_in_a_row} steps in a row had a non-finite loss or gradient "
                            f"(epoch {epoch}); "
                            "the weights were kept at the last good step -- lower the learning rate or check the data"
                        )
                state["step"] += 1
                state["batch"] = b + 1
                bar.update(1)
                bar.set_postfix(loss=f"{float(loss.detach()):.4g}")
                if cfg.checkpoint_every and state["step"] % cfg.checkpoint_every == 0:
                    self._save(state, scheduler, ema, best, best_moments)
            bar.close()
            record = {
                "epoch": epoch,
                "step": state["step"],
                "lr": self.optimizer.param_groups[0]["lr"],
                "train_loss": state["loss_sum"] / max(state["loss_count"], 1),
                "time_s": earlier_s + time.perf_counter() - start_time,
            }
            if val_data is not None and len(val_data):
                with _weights(self.params, ema):
                    val = validate(self.model, val_data)
                record.update({f"val_{k}": v for k, v in val.items()})
                if cfg.schedule == "plateau":
                    scheduler.step(val["loss"])
                if state["best_val"] is None or val["loss"] < state["best_val"]:
                    state.update(best_val=val["loss"], best_epoch=epoch, bad_epochs=0)
                    best = dict(ema) if ema is not None else self._snapshot()
                    best = {k: v.clone() for k, v in best.items()}
                    best_moments = self._moments()
                else:
                    if cfg.rollback_factor is not None and not val["loss"] <= cfg.rollback_factor * state["best_val"]:
                        self._roll_back(best, best_moments, ema, scheduler)
                        record["rolled_back_to"] = state["best_epoch"]
                    state["bad_epochs"] += 1
                    if cfg.patience is not None and state["bad_epochs"] >= cfg.patience:
                        state["stopped_early"] = True
            else:
                best = {k: v.clone() for k, v in (ema or self._snapshot()).items()}
                state["best_epoch"] = epoch
            state["history"].append(record)
            state.update(epoch=epoch + 1, batch=0, loss_sum=0.0, loss_count=0)
            if lines:
                per_epoch = (time.perf_counter() - start_time) / (epoch + 1 - first_epoch)
                print(epoch_line(record, cfg.epochs, state["best_epoch"], per_epoch), file=sys.stderr, flush=True)
            if cfg.time_limit_s is not None and time.perf_counter() - start_time > cfg.time_limit_s:
                state["stopped_early"] = True
            self._save(state, scheduler, ema, best, best_moments)
        with torch.no_grad():
            for k in self.names:
                self.params[k].copy_(best[k])
        self.model.to(home)
        distributed.barrier()
        return TrainResult(
            epochs=state["epoch"],
            steps=state["step"],
            best_val=state["best_val"],
            best_epoch=state["best_epoch"],
            stopped_early=state["stopped_early"],
            skipped_steps=state["skipped"],
            wall_time_s=earlier_s + time.perf_counter() - start_time,
            history=state["history"],
            resumed_after_s=earlier_s,
        )


_STATE_KEYS = (
    "epoch",
    "batch",
    "step",
    "best_val",
    "best_epoch",
    "bad_epochs",
    "skipped",
    "stopped_early",
    "loss_sum",
    "loss_count",
    "history",
)


def _copy_moments(moments: dict) -> dict:
    """A deep copy of optimizer state (load_state_dict would otherwise share its tensors)."""
    return {
        idx: {k: v.clone() if torch.is_tensor(v) else v for k, v in entry.items()} for idx, entry in moments.items()
    }


def _flatten_moments(moments: dict, prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, dict]:
    """Put optimizer state's tensors into ``tensors`` as ``prefix.idx.key``; return its scalars (JSON-ready)."""
    scalars: dict[str, dict] = {}
    for idx, entry in moments.items():
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"{prefix}.{idx}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(idx), {})[key] = value
    return scalars


def _gather_moments(tensors: dict[str, torch.Tensor], prefix: str, scalars: dict[str, dict]) -> dict[int, dict]:
    """The inverse of ``_flatten_moments``."""
    moments: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith(prefix + "."):
            _, idx, name = key.split(".", 2)
            moments.setdefault(int(idx), {})[name] = value
    for idx, entry in scalars.items():
        moments.setdefault(int(idx), {}).update(entry)
    return moments


class _weights:
    """Context manager: temporarily put the EMA weights into the model (no-op without EMA)."""

    def __init__(self, params: dict[str, nn.Parameter], ema: dict[str, torch.Tensor] | None):
        self.params, self.ema, self.saved = params, ema, None

    def __enter__(self):
        if self.ema is not None:
            self.saved = {k: self.params[k].detach().clone() for k in self.ema}
            with torch.no_grad():
                for k, v in self.ema.items():
                    self.params[k].copy_(v)

    def __exit__(self, *exc):
        if self.saved is not None:
            with torch.no_grad():
                for k, v in self.saved.items():
                    self.params[k].copy_(v)


def refine_lbfgs(model: nn.Module, loss_fn: Callable[[nn.Module], torch.Tensor], max_iter: int = 500) -> float:
    """Polish the trainable parameters with full-batch L-BFGS (strong-Wolfe line search); returns the final loss.

    For small problems that fit in one batch (material laws on a few dozen test points), a few hundred L-BFGS
    iterations after Adam reach a far lower loss than Adam alone. A non-finite loss leaves the weights as they were.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ConfigError("refine_lbfgs: the model has no trainable parameters")
    saved = [p.detach().clone() for p in params]
    optimizer = torch.optim.LBFGS(
        params,
        lr=1.0,
        max_iter=max_iter,
        history_size=50,
        line_search_fn="strong_wolfe",
        tolerance_grad=1e-12,
        tolerance_change=1e-15,
    )

    def closure():
        optimizer.zero_grad()
        loss = loss_fn(model)
        loss.backward()
        return loss

    optimizer.step(closure)
    final = loss_fn(model)  # not under no_grad: the loss itself may need autograd (stresses from energies)
    if not bool(torch.isfinite(final)):
        with torch.no_grad():
            for p, s in zip(params, saved):
                p.copy_(s)
        final = loss_fn(model)
    return float(final.detach())
