"""Keeping the old domain: Fisher-diagonal estimation, EWC, online EWC, L2-SP, and replay of source data.

Penalties are callables ``penalty(model) -> scalar tensor`` that the training loop adds to the loss. They compare
the model's *effective* base parameters (stored values plus active, unmerged LoRA-type deltas; see
``scisft.adapters.base.effective_parameters``) with an anchor, so the same penalty regularises full fine-tuning and
LoRA alike. Adapters that are not equivalent to a parameter change (bottleneck, gated) are invisible to them;
those are better protected by replay or by gating.

- EWC (Kirkpatrick et al., PNAS 2017): ``strength/2 * sum_i F_i (theta_i - theta*_i)^2``.
- Online EWC (Schwarz et al., ICML 2018): after each adaptation ``F <- decay * F + F_new`` and the anchor moves to
  the parameters just learned; one penalty then protects a whole sequence of adaptations.
- L2-SP (Li et al., ICML 2018): ``strength/2 * ||theta - theta_0||^2`` towards the starting point.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn
from torch.utils.data import Dataset

from scisft.adapters.base import effective_parameters, is_adapter_key
from scisft.errors import ConfigError

LossFn = Callable[[nn.Module, object], torch.Tensor]


def fisher_diagonal(
    model: nn.Module,
    batches: Iterable,
    loss_fn: LossFn,
    names: Iterable[str] | None = None,
    max_batches: int | None = None,
) -> dict[str, torch.Tensor]:
    """Empirical Fisher diagonal: the mean over batches of the squared gradient of ``loss_fn`` per base parameter.

    The gradient is taken per batch (batch size 1 gives the textbook per-sample empirical Fisher; larger batches are
    the usual cheaper approximation, about the per-sample Fisher divided by the batch size). Choosing the EWC
    strength: reading an MSE loss as a Gaussian log-likelihood with variance ~ the loss value, the posterior view
    gives strength ~ N_old * batch_size / loss -- for an interatomic potential on a few thousand old structures,
    ~1e6, not ~1 (with 1e3 on rMD17 the old chemistry was forgotten almost as badly as with no penalty).
    ``names`` restricts it to some base parameters (default: all).
    ``loss_fn(model, batch)`` returns a scalar loss (a tuple's first item is used).
    """
    params = {k: p for k, p in model.named_parameters() if not is_adapter_key(k)}
    if names is not None:
        names = list(names)
        unknown = [n for n in names if n not in params]
        if unknown:
            raise ConfigError(f"Fisher requested for unknown parameters {unknown[:5]}")
        params = {n: params[n] for n in names}
    flags = {k: p.requires_grad for k, p in params.items()}
    fisher = {k: torch.zeros_like(p) for k, p in params.items()}
    count = 0
    try:
        for p in params.values():
            p.requires_grad_(True)
        for batch in batches:
            if max_batches is not None and count >= max_batches:
                break
            loss = loss_fn(model, batch)
            loss = loss[0] if isinstance(loss, tuple) else loss
            grads = torch.autograd.grad(loss, list(params.values()), allow_unused=True)
            for (k, _), g in zip(params.items(), grads):
                if g is not None:
                    fisher[k] += g.detach() ** 2
            count += 1
    finally:
        for k, p in params.items():
            p.requires_grad_(flags[k])
    if count == 0:
        raise ConfigError("Fisher estimation got no batches; give it a non-empty data loader")
    return {k: v / count for k, v in fisher.items()}


def _quadratic(
    model: nn.Module, anchor: dict[str, torch.Tensor], weight: dict[str, torch.Tensor] | None
) -> torch.Tensor:
    current = effective_parameters(model)
    total = None
    for key, ref in anchor.items():  # anchors stay where they were made: the model may train on another device
        diff = current[key] - ref.to(current[key].device)
        term = (diff * diff * weight[key].to(diff.device)).sum() if weight is not None else (diff * diff).sum()
        total = term if total is None else total + term
    return total if total is not None else torch.zeros(())


class EWC:
    """Elastic weight consolidation around ``anchor`` with importance ``fisher`` (same keys)."""

    def __init__(self, anchor: dict[str, torch.Tensor], fisher: dict[str, torch.Tensor], strength: float):
        if set(anchor) != set(fisher):
            raise ConfigError("EWC anchor and Fisher must cover the same parameters")
        self.anchor = {k: v.detach().clone() for k, v in anchor.items()}
        self.fisher = {k: v.detach().clone() for k, v in fisher.items()}
        self.strength = float(strength)

    @classmethod
    def from_model(cls, model: nn.Module, fisher: dict[str, torch.Tensor], strength: float) -> EWC:
        """Anchor at the model's current effective parameters."""
        current = effective_parameters(model)
        return cls({k: current[k] for k in fisher}, fisher, strength)

    def __call__(self, model: nn.Module) -> torch.Tensor:
        return 0.5 * self.strength * _quadratic(model, self.anchor, self.fisher)


class OnlineEWC:
    """EWC over a sequence of adaptations: ``consolidate`` after each one; ``decay`` in [0, 1] forgets old Fisher."""

    def __init__(self, strength: float, decay: float = 1.0):
        if not 0.0 <= decay <= 1.0:
            raise ConfigError(f"online EWC decay must be in [0, 1], got {decay}")
        self.strength = float(strength)
        self.decay = float(decay)
        self.fisher: dict[str, torch.Tensor] = {}
        self.anchor: dict[str, torch.Tensor] = {}

    def consolidate(self, model: nn.Module, fisher: dict[str, torch.Tensor]) -> None:
        """Fold a new Fisher in (``F <- decay F + F_new``) and move the anchor to the current parameters."""
        for key, value in fisher.items():
            old = self.fisher.get(key)
            self.fisher[key] = value.detach().clone() if old is None else self.decay * old + value.detach()
        current = effective_parameters(model)
        self.anchor = {k: current[k].detach().clone() for k in self.fisher}

    def __call__(self, model: nn.Module) -> torch.Tensor:
        if not self.fisher:
            return torch.zeros(())
        return 0.5 * self.strength * _quadratic(model, self.anchor, self.fisher)


class L2SP:
    """``strength/2 * ||theta - theta_0||^2`` over the base parameters (or those in ``names``) at construction."""

    def __init__(self, model: nn.Module, strength: float, names: Iterable[str] | None = None):
        current = effective_parameters(model)
        keys = list(names) if names is not None else list(current)
        self.anchor = {k: current[k].detach().clone() for k in keys}
        self.strength = float(strength)

    def __call__(self, model: nn.Module) -> torch.Tensor:
        return 0.5 * self.strength * _quadratic(model, self.anchor, None)


class ReplayMix(Dataset):
    """Every target item each epoch plus ``ratio * len(target)`` source items, redrawn per epoch (``set_epoch``)."""

    def __init__(self, target: Dataset, source: Dataset, ratio: float = 0.5, seed: int = 0):
        if ratio < 0 or len(source) == 0 or len(target) == 0:
            raise ConfigError("replay needs non-empty target and source data and a ratio >= 0")
        self.target, self.source, self.seed = target, source, seed
        self.extra = int(round(ratio * len(target)))
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        n = len(self.source)
        reps = -(-self.extra // n) if self.extra else 0
        order = torch.cat([torch.randperm(n, generator=gen) for _ in range(reps)]) if reps else torch.empty(0)
        self.source_index = order[: self.extra].tolist()

    def __len__(self) -> int:
        return len(self.target) + self.extra

    def __getitem__(self, i: int):
        if i < len(self.target):
            return self.target[i]
        return self.source[self.source_index[i - len(self.target)]]
