"""Affinity tables as model inputs: drug inputs cached per SMILES, protein tokens per target, batched pairs."""

from __future__ import annotations

from collections import Counter

import pandas as pd
import torch
from torch_geometric.data import Batch

from scisft.bio.model import AffinityConfig
from scisft.bio.molecules import fingerprint, mol_graph
from scisft.bio.sequences import pad, tokens
from scisft.errors import DataError


class DrugCache:
    """Model inputs per SMILES (graphs or fingerprints), built once and shared between data sets."""

    def __init__(self, encoder: str):
        self.encoder, self.items = encoder, {}

    def __getitem__(self, smiles: str):
        if smiles not in self.items:
            self.items[smiles] = mol_graph(smiles) if self.encoder == "gnn" else fingerprint(smiles)
        return self.items[smiles]


class AffinityData:
    """Pairs of a table whose targets have sequences. ``sequence_of`` maps target_id -> sequence.

    A target without a sequence is an error naming it (``on_missing="skip"``: those rows are skipped and counted in
    ``skipped``). ``sequence_override`` (target_id -> (sequence, species)) runs a target as another protein, e.g. a
    mouse target through its human ortholog's sequence.
    """

    def __init__(
        self,
        table: pd.DataFrame,
        sequence_of: dict[str, str],
        config: AffinityConfig,
        drugs: DrugCache | None = None,
        on_missing: str = "raise",
        sequence_override: dict[str, tuple[str, str]] | None = None,
    ):
        self.config, self.drugs = config, drugs or DrugCache(config.drug_encoder)
        override = sequence_override or {}
        missing = sorted(set(table["target_id"]) - set(sequence_of) - set(override))
        self.skipped = Counter()
        if missing and on_missing == "raise":
            raise DataError(
                f"{len(missing)} target id(s) have no sequence: {', '.join(missing[:5])}"
                f"{' ...' if len(missing) > 5 else ''}",
                field="target_id",
                fix="add their sequences to the FASTA file, or drop these rows",
            )
        keep = ~table["target_id"].isin(missing)
        self.skipped["rows whose target has no sequence"] = int((~keep).sum())
        self.table = table[keep].reset_index(drop=True)
        unknown = sorted(set(self.table["species"]) - set(config.species))
        if unknown:
            raise DataError(f"species {unknown} unknown to the model (it knows {config.species})", field="species")
        self.proteins: dict[str, tuple[torch.Tensor, int]] = {}
        for target, species in self.table[["target_id", "species"]].drop_duplicates().itertuples(index=False):
            seq, sp = override.get(target, (sequence_of.get(target), species))
            self.proteins[target] = (tokens(seq, config.max_length), config.species.index(sp))
        self.y = torch.tensor(self.table["p_affinity"].to_numpy(float), dtype=torch.float32)

    def __len__(self) -> int:
        return len(self.table)

    def __getitem__(self, k: int):
        return self.table["smiles"].iat[k], self.table["target_id"].iat[k], self.y[k]

    def collate(self, items) -> dict:
        smiles = list(dict.fromkeys(s for s, _, _ in items))
        targets = list(dict.fromkeys(t for _, t, _ in items))
        drug_inputs = [self.drugs[s] for s in smiles]
        drugs = Batch.from_data_list(drug_inputs) if self.config.drug_encoder == "gnn" else torch.stack(drug_inputs)
        return {
            "drugs": drugs,
            "proteins": pad([self.proteins[t][0] for t in targets]),
            "protein_species": torch.tensor([self.proteins[t][1] for t in targets]),
            "drug_index": torch.tensor([smiles.index(s) for s, _, _ in items]),
            "protein_index": torch.tensor([targets.index(t) for _, t, _ in items]),
            "protein_ids": targets,
            "y": torch.stack([y for _, _, y in items]),
        }


def split_by_target(table: pd.DataFrame, fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rest, held_out) with ``fraction`` of the targets (not rows) held out."""
    targets = sorted(table["target_id"].unique())
    order = torch.randperm(len(targets), generator=torch.Generator().manual_seed(seed)).tolist()
    n = max(1, int(round(fraction * len(targets))))
    held = {targets[i] for i in order[:n]}
    mask = table["target_id"].isin(held)
    return table[~mask].reset_index(drop=True), table[mask].reset_index(drop=True)
