"""Choose per-layer LoRA ranks under a parameter budget from measured layer importance (0/1 knapsack by DP).

Importance comes from the gradient of the target loss with respect to each candidate layer's weight, averaged over
a few batches. For a rank-r update of a layer with gradient G, the best first-order loss decrease for an update of
given norm is governed by the top r singular values of G, so a layer's value at rank r is
``sum_{i <= r} sigma_i(G)^2`` (per path for e3nn ``o3.Linear``, summed). Its cost is the adapter's parameter count,
``r (in + out)`` (per path for ``o3.Linear``). Each layer takes exactly one rank from the menu (0 = no adapter);
the choice maximising total value within the budget is a multiple-choice 0/1 knapsack, solved exactly by dynamic
programming over the budget (in units of the costs' greatest common divisor).
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import torch
from e3nn import o3
from torch import nn

from scisft.adapters.equivariant import EquivariantLoRAConfig, weight_paths
from scisft.adapters.lora import LoRAConfig
from scisft.errors import ConfigError
from scisft.plan import Plan, Rule

Option = tuple[int, int, float]  # (rank, cost in parameters, value)


def allocate_ranks(options: dict[str, Sequence[Option]], budget: int) -> dict[str, int]:
    """Pick one (rank, cost, value) option per layer, maximising total value with total cost <= ``budget``.

    A zero-cost rank-0 option is added for every layer. Exact (dynamic programming).
    """
    if budget < 0:
        raise ConfigError(f"parameter budget must be >= 0, got {budget}")
    layers = list(options)
    menus = [[(0, 0, 0.0)] + [o for o in options[name] if o[0] > 0] for name in layers]
    costs = [c for menu in menus for _, c, _ in menu if c > 0]
    unit = math.gcd(*costs) if costs else 1
    cap = budget // unit
    best = np.zeros(cap + 1)
    choice = np.zeros((len(layers), cap + 1), dtype=np.int32)
    for li, menu in enumerate(menus):
        new = np.full(cap + 1, -np.inf)
        for oi, (_, cost, value) in enumerate(menu):
            c = cost // unit
            if c > cap:
                continue
            cand = np.full(cap + 1, -np.inf)
            cand[c:] = best[: cap + 1 - c] + value
            better = cand > new
            new[better] = cand[better]
            choice[li, better] = oi
        best = new
    picked, c = {}, int(np.argmax(best))
    for li in range(len(layers) - 1, -1, -1):
        rank, cost, _ = menus[li][choice[li, c]]
        picked[layers[li]] = rank
        c -= cost // unit
    return picked


def _blocks(module: nn.Module, grad: torch.Tensor) -> list[torch.Tensor]:
    """The gradient as the matrices a low-rank update acts on."""
    if isinstance(module, o3.Linear):
        out, offset = [], 0
        for mul_in, mul_out in weight_paths(module):
            out.append(grad[offset : offset + mul_in * mul_out].reshape(mul_in, mul_out))
            offset += mul_in * mul_out
        return out
    return [grad]


def rank_options(module: nn.Module, grad: torch.Tensor, ranks: Iterable[int]) -> list[Option]:
    """(rank, cost, value) for each rank in ``ranks`` for one layer, given its weight gradient."""
    blocks = _blocks(module, grad)
    spectra = [torch.linalg.svdvals(b.double()) ** 2 for b in blocks]
    menu = []
    for r in ranks:
        cost = sum(min(r, *b.shape) * sum(b.shape) for b in blocks)
        value = sum(float(s[:r].sum()) for s in spectra)
        menu.append((r, cost, value))
    return menu


def gradient_importance(
    model: nn.Module, layers: dict[str, nn.Module], loss_fn: Callable, batches: Iterable, max_batches: int = 4
) -> dict[str, torch.Tensor]:
    """Mean gradient of ``loss_fn(model, batch)`` with respect to each named layer's weight over a few batches."""
    weights = {n: m.weight for n, m in layers.items()}
    flags = {n: w.requires_grad for n, w in weights.items()}
    sums = {n: torch.zeros_like(w) for n, w in weights.items()}
    count = 0
    try:
        for w in weights.values():
            w.requires_grad_(True)
        for batch in batches:
            if count >= max_batches:
                break
            loss = loss_fn(model, batch)
            loss = loss[0] if isinstance(loss, tuple) else loss
            for (n, _), g in zip(weights.items(), torch.autograd.grad(loss, list(weights.values()), allow_unused=True)):
                if g is not None:
                    sums[n] += g.detach()
            count += 1
    finally:
        for n, w in weights.items():
            w.requires_grad_(flags[n])
    if count == 0:
        raise ConfigError("importance measurement got no batches")
    return {n: s / count for n, s in sums.items()}


def budget_plan(
    model: nn.Module,
    pattern: str,
    loss_fn: Callable,
    batches: Iterable,
    budget: int,
    ranks: Sequence[int] = (1, 2, 4, 8, 16),
    max_batches: int = 4,
) -> tuple[Plan, dict[str, int]]:
    """A plan giving each nn.Linear / o3.Linear matching ``pattern`` the LoRA rank the knapsack chose.

    Returns the plan (layers that got rank 0 are left out) and the chosen rank per layer.
    """
    layers = {
        n: m
        for n, m in model.named_modules()
        if fnmatch.fnmatchcase(n, pattern)
        and isinstance(m, (nn.Linear, o3.Linear))
        and getattr(m, "weight", None) is not None
        and m.weight.numel() > 0
    }
    if not layers:
        raise ConfigError(f"budget plan: no nn.Linear or o3.Linear layer matches '{pattern}'")
    grads = gradient_importance(model, layers, loss_fn, batches, max_batches)
    chosen = allocate_ranks({n: rank_options(m, grads[n], ranks) for n, m in layers.items()}, budget)
    rules = [
        Rule(n, EquivariantLoRAConfig(rank=r) if isinstance(layers[n], o3.Linear) else LoRAConfig(rank=r))
        for n, r in chosen.items()
        if r > 0
    ]
    return Plan(rules), chosen
