"""BitFit: train only a bias shift, ``y + db`` (Ben Zaken et al., ACL 2022), keyed like every adapter.

For ``nn.Linear`` and ``nn.Conv*`` the shift is per output channel; for e3nn's ``o3.Linear`` only its even-scalar
(0e) outputs are shifted, since a bias on l > 0 features would break equivariance. Merging adds ``db`` to the
host's bias, where the host has one (an o3.Linear keeps the shift unmerged).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from e3nn import o3
from torch import nn

from scisft.adapters.base import Adapter, MethodConfig, register_method
from scisft.errors import ConfigError


@register_method("bitfit")
@dataclass(frozen=True)
class BitFitConfig(MethodConfig):
    def build(self, host: nn.Module) -> BitFit:
        if isinstance(host, nn.Linear):
            return BitFit(self, host.out_features, -1, host.bias is not None)
        if isinstance(host, nn.modules.conv._ConvNd):
            return BitFit(self, host.out_channels, 1, host.bias is not None)
        if isinstance(host, o3.Linear):
            return BitFit(self, host.irreps_out.dim, -1, False, irreps=host.irreps_out)
        raise ConfigError(f"BitFit adapts nn.Linear, nn.Conv* or o3.Linear layers, not {type(host).__name__}")


class BitFit(Adapter):
    def __init__(
        self, config: BitFitConfig, channels: int, channel_dim: int, has_bias: bool, irreps: o3.Irreps | None = None
    ):
        super().__init__(config)
        self.channel_dim = channel_dim
        self.shift = nn.Parameter(torch.zeros(channels))
        allowed = torch.ones(channels)
        if irreps is not None:
            allowed = torch.cat([torch.full((mul * ir.dim,), float(ir == o3.Irrep("0e"))) for mul, ir in irreps])
        self.register_buffer("allowed", allowed, persistent=False)
        self.mergeable = irreps is None and has_bias

    def _shift(self, ndim: int) -> torch.Tensor:
        shift = self.shift * self.allowed
        if self.channel_dim == 1 and ndim > 2:
            return shift.reshape((-1,) + (1,) * (ndim - 2))
        return shift

    def adapt(self, host: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        return output + self._shift(output.dim())

    def deltas(self, host: nn.Module) -> dict[str, torch.Tensor]:
        return {"bias": self.shift}
