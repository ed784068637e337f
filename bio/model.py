"""Drug-target affinity model: drug encoder, protein encoder, interaction head; predicts a p-affinity.

- Drug: a GINE graph network over RDKit atom/bond features with mean+max pooling (``drug_encoder="gnn"``), or an
  MLP on 2048-bit Morgan fingerprints (``"fingerprint"``, the classic baseline).
- Protein: residue embedding, three dilated 1-D convolutions (DeepDTA-like, dilations 1, 2, 4, odd kernel) with
  the sequence halved between them, max pooling over the sequence, then a linear projection ``protein.proj``.
- Head: an MLP on [d, p, d * p].

Species: each protein row carries its species; the model puts boolean masks ``species_<name>`` (one entry per
protein) and a one-hot ``species_onehot`` into the adapter context, so protein-side adapters can act on one
species only (human predictions then stay bit-identical when adapting to mouse) or be conditioned on species (FiLM).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F
from torch_geometric.nn import GINEConv, global_max_pool, global_mean_pool

from scisft.adapters import adapter_context
from scisft.bio.molecules import ATOM_FEATURES, BOND_FEATURES, FINGERPRINT_BITS
from scisft.bio.sequences import ALPHABET
from scisft.errors import ConfigError


@dataclass
class AffinityConfig:
    """Architecture. max_length: residues kept per protein; species: those the model can be told about."""

    drug_encoder: str = "gnn"
    hidden: int = 128
    drug_layers: int = 3
    protein_embedding: int = 16
    protein_channels: tuple[int, ...] = (32, 48, 64)
    kernel: int = 7
    max_length: int = 800
    head_hidden: int = 256
    dropout: float = 0.1
    species: list[str] = field(default_factory=lambda: ["human", "mouse", "rat"])

    def __post_init__(self):
        self.protein_channels = tuple(self.protein_channels)
        if self.drug_encoder not in ("gnn", "fingerprint"):
            raise ConfigError(f"drug_encoder must be 'gnn' or 'fingerprint', got {self.drug_encoder!r}")
        if min(self.hidden, self.drug_layers, self.kernel, self.max_length, *self.protein_channels) < 1:
            raise ConfigError("affinity model sizes must be positive")

    @classmethod
    def from_dict(cls, values: dict) -> AffinityConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        if set(values) - known:
            raise ConfigError(f"model config: unknown option(s) {sorted(set(values) - known)}; known: {sorted(known)}")
        return cls(**values)


class DrugGNN(nn.Module):
    def __init__(self, hidden: int, layers: int):
        super().__init__()
        self.inp = nn.Linear(ATOM_FEATURES, hidden)
        self.convs = nn.ModuleList(
            GINEConv(
                nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, hidden)), edge_dim=BOND_FEATURES
            )
            for _ in range(layers)
        )
        self.out = nn.Linear(2 * hidden, hidden)

    def forward(self, graphs) -> torch.Tensor:
        h = self.inp(graphs.x)
        for conv in self.convs:
            h = h + F.relu(conv(h, graphs.edge_index, graphs.edge_attr))
        pooled = torch.cat([global_mean_pool(h, graphs.batch), global_max_pool(h, graphs.batch)], dim=-1)
        return self.out(pooled)


class DrugFingerprint(nn.Module):
    def __init__(self, hidden: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(FINGERPRINT_BITS, 512), nn.ReLU(), nn.Linear(512, hidden))

    def forward(self, fingerprints: torch.Tensor) -> torch.Tensor:
        return self.mlp(fingerprints)


class ProteinCNN(nn.Module):
    def __init__(self, config: AffinityConfig):
        super().__init__()
        self.embed = nn.Embedding(len(ALPHABET) + 1, config.protein_embedding, padding_idx=0)
        widths = [config.protein_embedding, *config.protein_channels]
        self.convs = nn.ModuleList(
            nn.Conv1d(a, b, config.kernel, dilation=2**k, padding="same")
            for k, (a, b) in enumerate(zip(widths, widths[1:]))
        )
        self.proj = nn.Linear(widths[-1], config.hidden)
        self.out_features = config.hidden  # so output-side adapters (bottleneck, FiLM) know the width

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """(P, L) residue tokens -> (P, hidden) protein representations."""
        mask = (tokens > 0).unsqueeze(1).float()
        h = self.embed(tokens).transpose(1, 2)
        for k, conv in enumerate(self.convs):
            if k:  # halve the length between layers: ~3x less compute, and a wider view for the dilations
                h, mask = F.max_pool1d(h, 2, ceil_mode=True), F.max_pool1d(mask, 2, ceil_mode=True)
            h = F.relu(conv(h)) * mask
        pooled = h.masked_fill(mask == 0, float("-inf")).amax(dim=-1)
        return self.proj(pooled)


class AffinityModel(nn.Module):
    def __init__(self, config: AffinityConfig):
        super().__init__()
        self.config = config
        self.drug = (
            DrugGNN(config.hidden, config.drug_layers)
            if config.drug_encoder == "gnn"
            else DrugFingerprint(config.hidden)
        )
        self.protein = ProteinCNN(config)
        h = config.hidden
        self.head = nn.Sequential(
            nn.Linear(3 * h, config.head_hidden),
            nn.ReLU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.head_hidden, config.head_hidden // 2),
            nn.ReLU(),
            nn.Linear(config.head_hidden // 2, 1),
        )

    def species_context(self, species: torch.Tensor) -> dict[str, torch.Tensor]:
        """Adapter-context entries for proteins of the given species indices (into ``config.species``)."""
        context = {f"species_{name}": species == k for k, name in enumerate(self.config.species)}
        context["species_onehot"] = F.one_hot(species, len(self.config.species)).to(self.head[0].weight.dtype)
        return context

    def encode_proteins(self, tokens: torch.Tensor, species: torch.Tensor) -> torch.Tensor:
        with adapter_context(**self.species_context(species)):
            return self.protein(tokens)

    def predict_with_proteins(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """(predicted p-affinity per pair, representation per protein of the batch)."""
        proteins = self.encode_proteins(batch["proteins"], batch["protein_species"])
        d = self.drug(batch["drugs"])[batch["drug_index"]]
        p = proteins[batch["protein_index"]]
        return self.head(torch.cat([d, p, d * p], dim=-1)).squeeze(-1), proteins

    def forward(self, batch: dict) -> torch.Tensor:
        """Predicted p-affinity (pairs,) for a collated batch (see ``scisft.bio.data.AffinityData.collate``)."""
        return self.predict_with_proteins(batch)[0]
