"""Norm-affine tuning: retrain a normalisation layer's scale and shift, keyed like every adapter.

For ``y = g * x_hat + b`` the adapter gives ``y' = g (1 + s) x_hat + b + t = (1 + s)(y - b) + b + t`` with ``s``
and ``t`` per channel, zero at start. Merging sets ``g <- g (1 + s)`` and ``b <- b + t``. Works for LayerNorm
(channels last) and BatchNorm/GroupNorm/InstanceNorm (channels in dimension 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from scisft.adapters.base import Adapter, MethodConfig, register_method
from scisft.errors import ConfigError

_CHANNELS_FIRST = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.modules.instancenorm._InstanceNorm)


@register_method("norm_affine")
@dataclass(frozen=True)
class NormAffineConfig(MethodConfig):
    def build(self, host: nn.Module) -> NormAffine:
        if isinstance(host, nn.LayerNorm):
            if len(host.normalized_shape) != 1:
                raise ConfigError("norm-affine tuning supports LayerNorm over the last dimension only")
            return NormAffine(self, host.normalized_shape[0], -1, host.elementwise_affine)
        if isinstance(host, _CHANNELS_FIRST):
            channels = host.num_channels if isinstance(host, nn.GroupNorm) else host.num_features
            return NormAffine(self, channels, 1, host.affine)
        raise ConfigError(f"norm-affine tuning adapts LayerNorm/BatchNorm/GroupNorm layers, not {type(host).__name__}")


class NormAffine(Adapter):
    def __init__(self, config: NormAffineConfig, channels: int, channel_dim: int, affine: bool):
        super().__init__(config)
        self.mergeable = affine
        self.channel_dim = channel_dim
        self.scale = nn.Parameter(torch.zeros(channels))
        self.shift = nn.Parameter(torch.zeros(channels))

    def deltas(self, host: nn.Module) -> dict[str, torch.Tensor]:
        return {"weight": host.weight * self.scale, "bias": self.shift} if self.mergeable else {}

    def _shape(self, t: torch.Tensor, ndim: int) -> torch.Tensor:
        return t.reshape((-1,) + (1,) * (ndim - 2)) if self.channel_dim == 1 and ndim > 2 else t

    def adapt(self, host: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        bias = host.bias if getattr(host, "bias", None) is not None else torch.zeros_like(self.shift)
        b, s, t = (self._shape(v, output.dim()) for v in (bias, self.scale, self.shift))
        return (1 + s) * (output - b) + b + t

    def merge_into(self, host: nn.Module) -> None:
        if not self.mergeable:
            raise ConfigError("norm-affine tuning can merge only into a norm layer with affine=True")
        host.weight.mul_(1 + self.scale)
        host.bias.add_(self.shift)

    def unmerge_from(self, host: nn.Module) -> None:
        host.bias.sub_(self.shift)
        host.weight.div_(1 + self.scale)
