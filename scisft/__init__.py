"""scisft: adapt pretrained scientific models to a new domain by training a small, well-chosen set of parameters.

The core is domain-free (torch, e3nn): adaptation methods keyed by adapter name, plans, budget allocation,
forgetting control, safetensors checkpoints and one training loop. Plugins: ``scisft.potentials``,
``scisft.bio``, ``scisft.materials``.

Importing ``scisft`` is cheap: the names below load their module (and torch) on first use, so ``scisft --version``
and ``--help`` start in a fraction of a second.
"""

from __future__ import annotations

from importlib import metadata as _metadata

from scisft.lazy import exports

try:
    __version__ = _metadata.version("scisft")
except _metadata.PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+unknown"
__all__ = ["__version__"]

__getattr__ = exports(
    globals(),
    {
        "scisft.adapters": [
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
        ],
        "scisft.checkpoint": ["fingerprint", "load_adapter", "save_adapter"],
        "scisft.errors": ["CheckpointError", "ConfigError", "DataError", "ScisftError"],
        "scisft.forgetting": ["EWC", "L2SP", "OnlineEWC", "ReplayMix", "fisher_diagonal"],
        "scisft.plan": ["Plan", "Rule", "trainable_report"],
        "scisft.training": ["TrainConfig", "Trainer", "TrainResult"],
    },
)
