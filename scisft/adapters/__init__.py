"""Adaptation methods, each keyed by adapter name (see ``scisft.adapters.base`` for how they attach)."""

from scisft.adapters.base import (
    METHODS,
    Adapter,
    MethodConfig,
    adapter_context,
    adapter_names,
    adapter_parameters,
    attach,
    base_state_dict,
    hosts,
    merge,
    remove,
    set_active,
    unmerge,
)
from scisft.adapters.bitfit import BitFitConfig
from scisft.adapters.bottleneck import BottleneckConfig
from scisft.adapters.copy import CopyConfig
from scisft.adapters.embedding import ExtendableEmbedding, ExtendRowsConfig
from scisft.adapters.equivariant import EquivariantLoRAConfig, GatedEquivariantConfig
from scisft.adapters.film import FiLM, FiLMConfig
from scisft.adapters.lora import LoRAConfig
from scisft.adapters.norm_affine import NormAffineConfig

__all__ = [
    "METHODS",
    "Adapter",
    "MethodConfig",
    "adapter_context",
    "adapter_names",
    "adapter_parameters",
    "attach",
    "base_state_dict",
    "hosts",
    "merge",
    "remove",
    "set_active",
    "unmerge",
    "BitFitConfig",
    "BottleneckConfig",
    "CopyConfig",
    "ExtendableEmbedding",
    "ExtendRowsConfig",
    "EquivariantLoRAConfig",
    "GatedEquivariantConfig",
    "FiLM",
    "FiLMConfig",
    "LoRAConfig",
    "NormAffineConfig",
]
