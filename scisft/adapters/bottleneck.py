"""Bottleneck residual adapter: ``y + up(act(down(y)))`` on the host's output features (last dimension).

``up`` starts at zero, so a fresh adapter changes nothing. Houlsby et al., "Parameter-Efficient Transfer Learning
for NLP", ICML 2019. Not for equivariant (l > 0) features: use the equivariant adapters there.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from scisft.adapters.base import Adapter, MethodConfig, add_on_rows, register_method
from scisft.errors import ConfigError

ACTIVATIONS = {"silu": nn.SiLU, "relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}


def output_features(host: nn.Module) -> int:
    """Width of the host's output features, read from its weight (nn.Linear, embedding, norm layers ...)."""
    for attr in ("out_features", "embedding_dim", "normalized_shape", "num_features"):
        value = getattr(host, attr, None)
        if value is not None:
            return int(value[-1] if isinstance(value, tuple) else value)
    raise ConfigError(f"cannot tell the output width of {type(host).__name__}; adapt an nn.Linear-like module")


@register_method("bottleneck")
@dataclass(frozen=True)
class BottleneckConfig(MethodConfig):
    """hidden: bottleneck width; activation: silu, relu, gelu or tanh."""

    hidden: int = 16
    activation: str = "silu"
    mask_key: str | None = None

    def build(self, host: nn.Module) -> Bottleneck:
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f"unknown activation {self.activation!r}; choose from {sorted(ACTIVATIONS)}")
        if self.hidden < 1:
            raise ConfigError(f"bottleneck width must be >= 1, got {self.hidden}")
        return Bottleneck(self, output_features(host))


class Bottleneck(Adapter):
    def __init__(self, config: BottleneckConfig, features: int):
        super().__init__(config)
        self.down = nn.Linear(features, config.hidden)
        self.act = ACTIVATIONS[config.activation]()
        self.up = nn.Linear(config.hidden, features)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def adapt(self, host: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        return add_on_rows(
            output, output, lambda y: self.up(self.act(self.down(y))), self.config.mask_key, "bottleneck"
        )
