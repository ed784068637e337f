"""scisft.bio: drug-target affinity models that transfer across species with ortholog-aware protein adapters.

Affinity tables (smiles, target_id, species, p_affinity), RDKit molecules, Biopython sequences, orthologs (GtoPdb,
Ensembl/HCOP, reciprocal best hits), a GNN/CNN affinity model, and species-gated transfer.
"""

from scisft.bio.model import AffinityConfig, AffinityModel
from scisft.bio.store import load
from scisft.bio.tables import read_affinities

__all__ = ["AffinityConfig", "AffinityModel", "load", "read_affinities"]
