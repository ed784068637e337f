"""LoRA for ``nn.Linear``: ``y = W x + b + (alpha / rank) * B A dropout(x)``.

``A`` (rank x in) starts random, ``B`` (out x rank) starts at zero, so a fresh adapter changes nothing.
Merging adds ``(alpha / rank) * B A`` to ``W`` (no inference cost); unmerging subtracts it again.
With ``mask_key`` the update is added only to the rows a boolean mask in the adapter context selects (e.g. the
edges that touch a new element); the other rows are untouched bit for bit, and such an adapter cannot be merged.
Hu et al., "LoRA: Low-Rank Adaptation of Large Language Models", ICLR 2022.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from scisft.adapters.base import Adapter, MethodConfig, add_on_rows, register_method
from scisft.errors import ConfigError


@register_method("lora")
@dataclass(frozen=True)
class LoRAConfig(MethodConfig):
    """rank: inner dimension; alpha: scale numerator (default = rank, i.e. scale 1); dropout: on the input."""

    rank: int = 4
    alpha: float | None = None
    dropout: float = 0.0
    mask_key: str | None = None

    def build(self, host: nn.Module) -> LoRA:
        if not isinstance(host, nn.Linear):
            raise ConfigError(f"LoRA adapts nn.Linear layers, not {type(host).__name__}")
        if not self.rank >= 1:
            raise ConfigError(f"LoRA rank must be >= 1, got {self.rank}")
        return LoRA(self, host.in_features, host.out_features)


class LoRA(Adapter):
    def __init__(self, config: LoRAConfig, in_features: int, out_features: int):
        super().__init__(config)
        self.mergeable = config.mask_key is None
        rank = min(config.rank, in_features, out_features)
        self.scale = (config.alpha if config.alpha is not None else rank) / rank
        self.A = nn.Parameter(torch.randn(rank, in_features) / math.sqrt(in_features))
        self.B = nn.Parameter(torch.zeros(out_features, rank))
        self.dropout = nn.Dropout(config.dropout) if config.dropout > 0 else nn.Identity()

    def delta_weight(self) -> torch.Tensor:
        """The low-rank update of the host's weight, shape (out, in)."""
        return self.scale * (self.B @ self.A)

    def adapt(self, host: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        return add_on_rows(output, inputs[0], self._delta, self.config.mask_key, "LoRA")

    def _delta(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * F.linear(F.linear(self.dropout(x), self.A), self.B)

    def deltas(self, host: nn.Module) -> dict[str, torch.Tensor]:
        return {"weight": self.delta_weight()}
