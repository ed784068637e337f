"""Extendable embeddings: the base rows stay frozen, each adapter appends trainable rows of its own.

Row ``i < num_base`` is the base table's; the rows an adapter adds get the next free indices, in the order the
adapters were added. An adapter's rows live in the module's ``scisft_adapters`` container under the adapter's
name, so they are saved, loaded and removed with that adapter.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from scisft.adapters.base import SLOT, MethodConfig, check_adapter_name, register_method
from scisft.errors import ConfigError


class ExtendableEmbedding(nn.Module):
    """An embedding table of ``num_base`` frozen-able rows that adapters can extend with new trainable rows."""

    def __init__(self, num_base: int, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(num_base, dim))
        self.add_module(SLOT, nn.ParameterDict())

    @property
    def num_embeddings(self) -> int:
        return self.full_weight().shape[0]

    def extend(self, name: str, rows: int | torch.Tensor) -> list[int]:
        """Append rows for adapter ``name`` (a count, zero-initialised, or initial values); return their indices."""
        check_adapter_name(name)
        slot = getattr(self, SLOT)
        if name in slot:
            raise ConfigError(f"embedding already has rows for adapter {name!r}")
        init = torch.zeros(rows, self.weight.shape[1]) if isinstance(rows, int) else rows.detach().clone()
        if init.dim() != 2 or init.shape[1] != self.weight.shape[1]:
            raise ConfigError(
                f"new embedding rows must have shape (n, {self.weight.shape[1]}), got {tuple(init.shape)}"
            )
        start = self.num_embeddings
        slot[name] = nn.Parameter(init.to(self.weight))
        return list(range(start, start + init.shape[0]))

    def full_weight(self) -> torch.Tensor:
        """All rows: the base table, then every adapter's rows."""
        return torch.cat([self.weight, *getattr(self, SLOT).values()], dim=0)

    def forward(self, index: torch.Tensor) -> torch.Tensor:
        return F.embedding(index, self.full_weight())


@register_method("extend_rows")
@dataclass(frozen=True)
class ExtendRowsConfig(MethodConfig):
    """rows: how many rows the adapter appends to an ``ExtendableEmbedding`` (rebuilt zero, then loaded)."""

    rows: int = 1

    def attach(self, host: nn.Module, name: str) -> None:
        if not isinstance(host, ExtendableEmbedding):
            raise ConfigError(f"extend_rows needs an ExtendableEmbedding, not {type(host).__name__}")
        host.extend(name, self.rows)
