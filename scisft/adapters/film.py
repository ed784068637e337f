"""FiLM: a small network maps a condition ``c`` (temperature, species ...) to per-channel scale and shift,
``h -> scale(c) * h + shift(c)`` (Perez et al., AAAI 2018).

``positive_scale=True`` makes ``scale(c) = softplus(.) > 0``. That is what keeps an input-convex network convex
when FiLM modulates its hidden units: each hidden unit is a convex function of the input, a positive multiple of
a convex function is convex, adding a shift that does not depend on the input keeps it convex, and the next layer
combines units with non-negative weights through a convex non-decreasing activation. Both variants start as the
identity (scale 1, shift 0), so a fresh FiLM changes nothing.

``FiLM`` is a plain module for models that call it themselves; ``film`` as an adapter method modulates a host's
output with the condition read from the adapter context (``with adapter_context(species=c): ...``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from scisft.adapters.base import Adapter, MethodConfig, context_value, register_method
from scisft.adapters.bottleneck import output_features
from scisft.errors import ConfigError

_SOFTPLUS_INV_ONE = math.log(math.e - 1.0)


class FiLM(nn.Module):
    """Per-channel modulation ``scale(c) * h + shift(c)``; ``c`` has shape (..., cond_dim), ``h`` (..., channels)."""

    def __init__(self, cond_dim: int, channels: int, hidden: int = 16, positive_scale: bool = False):
        super().__init__()
        if cond_dim < 1 or channels < 1 or hidden < 1:
            raise ConfigError(
                f"FiLM needs positive sizes, got cond_dim={cond_dim}, channels={channels}, hidden={hidden}"
            )
        self.positive_scale = positive_scale
        self.net = nn.Sequential(nn.Linear(cond_dim, hidden), nn.SiLU(), nn.Linear(hidden, 2 * channels))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def modulation(self, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(scale, shift) for condition ``c``, each of shape (..., channels)."""
        raw_scale, shift = self.net(c).chunk(2, dim=-1)
        scale = F.softplus(raw_scale + _SOFTPLUS_INV_ONE) if self.positive_scale else 1.0 + raw_scale
        return scale, shift

    def forward(self, h: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        scale, shift = self.modulation(c)
        return scale * h + shift


@register_method("film")
@dataclass(frozen=True)
class FiLMConfig(MethodConfig):
    """cond_dim: condition width; condition_key: its name in the adapter context; positive_scale: see module doc."""

    cond_dim: int = 1
    condition_key: str = "condition"
    hidden: int = 16
    positive_scale: bool = False

    def build(self, host: nn.Module) -> FiLMAdapter:
        return FiLMAdapter(self, output_features(host))


class FiLMAdapter(Adapter):
    def __init__(self, config: FiLMConfig, channels: int):
        super().__init__(config)
        self.film = FiLM(config.cond_dim, channels, config.hidden, config.positive_scale)

    def adapt(self, host: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        return self.film(output, context_value(self.config.condition_key, "FiLM adapter"))
