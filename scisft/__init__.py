"""scisft: adapt pretrained scientific models to a new domain by training a small, well-chosen set of parameters.

The core is domain-free (torch, e3nn): adaptation methods keyed by adapter name, plans, budget allocation,
forgetting control, safetensors checkpoints and one training loop. Plugins: ``scisft.potentials``,
``scisft.bio``, ``scisft.materials``.
"""

from importlib import metadata as _metadata

from scisft.adapters import (
    BitFitConfig,
    BottleneckConfig,
    CopyConfig,
    EquivariantLoRAConfig,
    ExtendableEmbedding,
    ExtendRowsConfig,
    FiLM,
    FiLMConfig,
    GatedEquivariantConfig,
    LoRAConfig,
    NormAffineConfig,
    adapter_context,
    adapter_names,
    adapter_parameters,
    merge,
    remove,
    set_active,
    unmerge,
)
from scisft.checkpoint import fingerprint, load_adapter, save_adapter
from scisft.errors import CheckpointError, ConfigError, DataError, ScisftError
from scisft.forgetting import EWC, L2SP, OnlineEWC, ReplayMix, fisher_diagonal
from scisft.plan import Plan, Rule, trainable_report
from scisft.training import TrainConfig, Trainer, TrainResult

try:
    __version__ = _metadata.version("scisft")
except _metadata.PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+unknown"

__all__ = [
    "BitFitConfig",
    "BottleneckConfig",
    "CopyConfig",
    "EquivariantLoRAConfig",
    "ExtendableEmbedding",
    "ExtendRowsConfig",
    "FiLM",
    "FiLMConfig",
    "GatedEquivariantConfig",
    "LoRAConfig",
    "NormAffineConfig",
    "adapter_context",
    "adapter_names",
    "adapter_parameters",
    "merge",
    "remove",
    "set_active",
    "unmerge",
    "fingerprint",
    "load_adapter",
    "save_adapter",
    "CheckpointError",
    "ConfigError",
    "DataError",
    "ScisftError",
    "EWC",
    "L2SP",
    "OnlineEWC",
    "ReplayMix",
    "fisher_diagonal",
    "Plan",
    "Rule",
    "trainable_report",
    "Trainer",
    "TrainConfig",
    "TrainResult",
    "__version__",
]
