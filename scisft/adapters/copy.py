"""Copy adaptation: train a copy of a small host module in its place, keeping the original untouched.

For small subnetworks that should change as a whole -- a temperature-modulation network, a prediction head --
where a low-rank update would be no smaller than the module itself. The copy starts equal to the host, so a fresh
adapter changes nothing; it is saved, loaded, switched and removed like any adapter, and switching it off gives
the base model back exactly.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from scisft.adapters.base import SLOT, Adapter, MethodConfig, register_method
from scisft.errors import ConfigError

MAX_COPY_PARAMETERS = 1_000_000


@register_method("copy")
@dataclass(frozen=True)
class CopyConfig(MethodConfig):
    def build(self, host: nn.Module) -> ModuleCopy:
        size = sum(p.numel() for k, p in host.named_parameters() if SLOT not in k)
        if size > MAX_COPY_PARAMETERS:
            raise ConfigError(f"copy adaptation is for small modules; this one has {size:,} parameters (use LoRA)")
        return ModuleCopy(self, host)


class ModuleCopy(Adapter):
    def __init__(self, config: CopyConfig, host: nn.Module):
        super().__init__(config)
        twin = copy.deepcopy(host)
        if hasattr(twin, SLOT):
            delattr(twin, SLOT)
        twin._forward_hooks.clear()
        self.twin = twin

    def adapt(self, host: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        return self.twin(*inputs)
