"""The options of ``add-element`` (``AddElementOptions``), in a module of their own so that the command line can
list the strategies and defaults without importing torch."""

from __future__ import annotations

import dataclasses

from scisft.errors import ConfigError

STRATEGIES = ("gated", "lora", "full", "scratch")


@dataclasses.dataclass
class AddElementOptions:
    """How to add the element. rank: adapter rank; ewc: EWC strength (lora/full); replay_ratio: old items replayed
    per new item (lora/full; 0 uses the replay data for the EWC Fisher only); check_units: refuse data whose forces
    or interatomic distances are surely not in eV/Angstrom and Angstrom (``scisft.potentials.units``)."""

    strategy: str = "gated"
    rank: int = 2
    radial_rank: int = 3  # 3 keeps the adapter file under 5% of a 64-channel base's (4: 5.4%)
    node_layers: tuple[str, ...] = ("linear_out", "self_connection")
    radial_layers: tuple[str, ...] = ("radial.4",)
    node_gate: str = "near"
    edge_gate: str = "near"
    ewc: float = 0.0
    ewc_decay: float = 1.0
    replay_ratio: float = 0.5
    init_from: str | None = None
    validation_fraction: float = 0.1
    training: dict = dataclasses.field(default_factory=dict)
    loss: dict = dataclasses.field(default_factory=dict)
    check_units: bool = True

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"strategy {self.strategy!r} unknown; choose one of {STRATEGIES}")
        if self.rank < 1 or self.radial_rank < 1:
            raise ConfigError("adapter ranks must be >= 1")
        if self.node_gate not in ("atoms", "near"):
            raise ConfigError(f"node_gate must be 'atoms' or 'near', got {self.node_gate!r}")
        if self.edge_gate not in ("touch", "near"):
            raise ConfigError(f"edge_gate must be 'touch' or 'near', got {self.edge_gate!r}")
