"""Equivariant LoRA and a gated equivariant adapter for e3nn's ``o3.Linear``.

An ``o3.Linear`` holds one weight matrix per path (input irrep block -> output block of the same irrep), of shape
(mul_in, mul_out), and mixes only channels; any choice of those matrices gives an equivariant map. A low-rank
update *within each path*, ``dW_path = (alpha / rank) * A_path B_path``, is therefore itself a valid
``o3.Linear`` weight, and ``y + Linear(x; dW)`` is exactly as equivariant as the base layer (up to float rounding).
Mixing across irreps, or adding a bias to l > 0 outputs, would break this, and neither is done here.

The gated adapter multiplies that update by a gate ``g(x) in (0, 1)`` computed from the *even scalars* (0e) of the
input only, which are invariant under rotations and reflections, so the product is still equivariant. With
``mask_key`` either method acts only on the rows a boolean mask in the adapter context selects.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from e3nn import nn as e3nn_nn
from e3nn import o3
from torch import nn

from scisft.adapters.base import Adapter, MethodConfig, add_on_rows, register_method
from scisft.errors import ConfigError


def _check_host(host: nn.Module, method: str) -> None:
    if not isinstance(host, o3.Linear):
        raise ConfigError(f"{method} adapts e3nn o3.Linear layers, not {type(host).__name__}")
    if not (host.internal_weights and host.shared_weights) or host.weight.dim() != 1:
        raise ConfigError(f"{method} needs an o3.Linear with its own shared weights (no f_in/f_out batching)")


def weight_paths(host: o3.Linear) -> list[tuple[int, int]]:
    """(mul_in, mul_out) of each weighted path of ``host``, in the order of its flat weight vector."""
    return [tuple(ins.path_shape) for ins in host.instructions if ins.i_in != -1]


class _LowRankPaths(Adapter):
    """Per-path factors A (mul_in x r) and B (r x mul_out), B zero at start; r = min(rank, mul_in, mul_out)."""

    def __init__(self, config, host: o3.Linear):
        super().__init__(config)
        self.paths = weight_paths(host)
        self.A = nn.ParameterList()
        self.B = nn.ParameterList()
        for mul_in, mul_out in self.paths:
            r = max(min(config.rank, mul_in, mul_out), 0)
            self.A.append(nn.Parameter(torch.randn(mul_in, r) / math.sqrt(max(mul_in, 1))))
            self.B.append(nn.Parameter(torch.zeros(r, mul_out)))
        self.scale = (config.alpha if config.alpha is not None else config.rank) / config.rank
        self.dropout = e3nn_nn.Dropout(host.irreps_in, config.dropout) if config.dropout > 0 else nn.Identity()

    def delta_weight(self) -> torch.Tensor:
        """The update of the host's flat weight vector (same layout as ``host.weight``)."""
        return self.scale * torch.cat([(a @ b).reshape(-1) for a, b in zip(self.A, self.B)])

    def _linear_delta(self, host: o3.Linear, x: torch.Tensor) -> torch.Tensor:
        # host.forward (not host(...)) so the host's adapter hook does not run again
        return host.forward(self.dropout(x), weight=self.delta_weight(), bias=torch.zeros_like(host.bias))


@register_method("equivariant_lora")
@dataclass(frozen=True)
class EquivariantLoRAConfig(MethodConfig):
    """rank per path; alpha: scale numerator (default = rank); dropout: whole-irrep dropout on the input."""

    rank: int = 4
    alpha: float | None = None
    dropout: float = 0.0
    mask_key: str | None = None

    def build(self, host: nn.Module) -> EquivariantLoRA:
        _check_host(host, "equivariant LoRA")
        if self.rank < 1:
            raise ConfigError(f"equivariant LoRA rank must be >= 1, got {self.rank}")
        return EquivariantLoRA(self, host)


class EquivariantLoRA(_LowRankPaths):
    def __init__(self, config: EquivariantLoRAConfig, host: o3.Linear):
        super().__init__(config, host)
        self.mergeable = config.mask_key is None

    def adapt(self, host: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        return add_on_rows(
            output, inputs[0], lambda x: self._linear_delta(host, x), self.config.mask_key, "equivariant LoRA"
        )

    def deltas(self, host: nn.Module) -> dict[str, torch.Tensor]:
        return {"weight": self.delta_weight()}


@register_method("gated_equivariant")
@dataclass(frozen=True)
class GatedEquivariantConfig(MethodConfig):
    """Equivariant low-rank update times a sigmoid gate of the input's 0e scalars (hidden: gate MLP width)."""

    rank: int = 4
    alpha: float | None = None
    dropout: float = 0.0
    hidden: int = 16
    mask_key: str | None = None

    def build(self, host: nn.Module) -> GatedEquivariantAdapter:
        _check_host(host, "gated equivariant adapter")
        if self.rank < 1:
            raise ConfigError(f"gated equivariant adapter rank must be >= 1, got {self.rank}")
        return GatedEquivariantAdapter(self, host)


class GatedEquivariantAdapter(_LowRankPaths):
    """``y + g(x_0e) * Linear(x; dW)``; never merged, since the gate depends on the input."""

    def __init__(self, config: GatedEquivariantConfig, host: o3.Linear):
        super().__init__(config, host)
        scalar_index = [
            i
            for (mul, ir), sl in zip(host.irreps_in, host.irreps_in.slices())
            if ir == o3.Irrep("0e")
            for i in range(sl.start, sl.stop)
        ]
        self.register_buffer("scalar_index", torch.tensor(scalar_index, dtype=torch.long), persistent=False)
        n = max(len(scalar_index), 1)
        self.gate = nn.Sequential(nn.Linear(n, config.hidden), nn.SiLU(), nn.Linear(config.hidden, 1))

    def _gated_delta(self, host: o3.Linear, x: torch.Tensor) -> torch.Tensor:
        scalars = (
            x.index_select(-1, self.scalar_index) if self.scalar_index.numel() else x.new_ones(x.shape[:-1] + (1,))
        )
        return torch.sigmoid(self.gate(scalars)) * self._linear_delta(host, x)

    def adapt(self, host: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        return add_on_rows(
            output, inputs[0], lambda x: self._gated_delta(host, x), self.config.mask_key, "gated equivariant adapter"
        )
