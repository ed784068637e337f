"""scisft.bio: drug-target affinity models that transfer across species with ortholog-aware protein adapters.

Affinity tables (smiles, target_id, species, p_affinity), RDKit molecules, Biopython sequences, orthologs (GtoPdb,
Ensembl/HCOP, reciprocal best hits), a GNN/CNN affinity model, and species-gated transfer.
"""

from scisft.lazy import exports

__getattr__ = exports(
    globals(),
    {
        "scisft.bio.model": ["AffinityConfig", "AffinityModel"],
        "scisft.bio.store": ["load"],
        "scisft.bio.tables": ["read_affinities"],
    },
)
