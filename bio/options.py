"""The options of ``transfer`` (``TransferOptions``), in a module of their own so that the command line can list the
methods and anchors without importing torch. See ``scisft.bio.train`` for what each does."""

from __future__ import annotations

import dataclasses

from scisft.errors import ConfigError

METHODS = ("adapters", "full", "scratch")
ANCHORS = ("own", "ortholog")


@dataclasses.dataclass
class TransferOptions:
    method: str = "adapters"
    gated: bool = True
    rank: int = 8
    bottleneck: int = 32
    ortholog_weight: float = 1.0
    margin: float = 0.1
    ewc: float = 0.0
    species: str = "mouse"
    source_species: str = "human"
    anchor: str = "own"

    def __post_init__(self):
        if self.method not in METHODS:
            raise ConfigError(f"transfer method {self.method!r} unknown; choose one of {METHODS}")
        if self.anchor not in ANCHORS:
            raise ConfigError(f"anchor {self.anchor!r} unknown; choose one of {ANCHORS}")
        if self.anchor == "ortholog" and self.method != "adapters":
            raise ConfigError("the ortholog anchor is for adapters (it needs the base model's frozen encoder)")
