"""Message passing in blocks of edges, so that memory stays bounded for large systems.

One layer's per-edge tensors (the tensor product's inputs, outputs and intermediates, kept for the force backward
pass) dominate peak memory: about 35 kB per edge at 64 channels and l_max = 2, so 5 GB for ~3000 atoms of a
liquid. ``EdgeBlocks`` sorts the edges by centre atom and cuts them into blocks of whole centre atoms (no atom's
edges are split, so each block's pooled messages are final rows of the layer's output); each block runs under
``torch.utils.checkpoint``, which keeps only the block's inputs and recomputes its intermediates during the
backward pass. Peak memory is then one block's intermediates plus per-atom features, instead of every edge's.

Per-edge adapter-context tensors (the gated adapters' edge masks) are sliced with their block. Results equal the
unblocked computation up to float rounding (sums in another order). Blocks are for evaluation (MD, ``evaluate``):
training on forces keeps the force computation's graph for the weight gradients, so checkpointing would save no
memory there and only add a recomputation; ``Potential`` runs training batches unblocked.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.utils.checkpoint import checkpoint

from scisft.adapters import adapter_context

# edges per block, by device type. CPU: small blocks stay in cache and are faster than one large pass (production
# model, ethanol liquid, one thread: 5.4 ms/atom at 1125 atoms with 2048 edges per block, 11.5 ms/atom unblocked;
# 1024-2048 was best, ``benchmarks/size_scaling.py``). GPU: large blocks keep kernel launches few (131072 edges:
# about 4.6 GB of float32 intermediates at 64 channels, l_max = 2); not yet measured.
MAX_EDGES = {"cpu": 2048, "cuda": 131072}


def default_max_edges(device: torch.device) -> int:
    """Edges per block on ``device`` (``MAX_EDGES``; other accelerators as CUDA)."""
    return MAX_EDGES.get(device.type, MAX_EDGES["cuda"])


class EdgeBlocks:
    """A cut of ``E`` edges (sorted by centre atom) into blocks of whole centre atoms, each at most ``max_edges``
    edges unless a single atom has more.

    ``order`` sorts a graph's edges by centre atom; apply it to every per-edge tensor before the layers run.
    ``edge_context``: per-edge adapter-context tensors, already in sorted order, sliced for each block.
    """

    def __init__(self, centre: torch.Tensor, n_atoms: int, max_edges: int):
        self.order = torch.argsort(centre, stable=True)
        counts = torch.bincount(centre, minlength=n_atoms)
        row_start = torch.cat([counts.new_zeros(1), counts.cumsum(0)])  # row_start[a]: first edge of atom a
        n_edges = int(row_start[-1])
        n_blocks = max(1, -(-n_edges // max_edges))
        targets = torch.linspace(0, n_edges, n_blocks + 1, device=centre.device).round().long()[1:-1]
        ends = torch.tensor([0, n_atoms], device=centre.device)
        atoms = torch.unique(torch.cat([ends, torch.searchsorted(row_start, targets)]))  # first atom of each block
        edges = row_start[atoms]
        self.atom_ranges = list(zip(atoms[:-1].tolist(), atoms[1:].tolist(), strict=True))
        self.edge_ranges = list(zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True))
        self.edge_context: dict[str, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.atom_ranges)

    def pooled(
        self,
        messages: Callable[..., torch.Tensor],
        x: torch.Tensor,
        sh: torch.Tensor,
        basis: torch.Tensor,
        edge_index: torch.Tensor,
    ) -> torch.Tensor:
        """``messages(x, sh, basis, centre, neighbour, n_centres)`` -> pooled (n_centres, F), run block by block on
        the sorted edges (``edge_index`` sorted) and stacked into (N, F)."""
        keys = list(self.edge_context)
        parts = []
        for (a0, a1), (e0, e1) in zip(self.atom_ranges, self.edge_ranges, strict=True):

            def block(x, sh, basis, *context, a0=a0, a1=a1, e0=e0, e1=e1):
                with adapter_context(**dict(zip(keys, context, strict=True))):
                    return messages(x, sh, basis, edge_index[0, e0:e1] - a0, edge_index[1, e0:e1], a1 - a0)

            context = [self.edge_context[k][e0:e1] for k in keys]
            parts.append(checkpoint(block, x, sh[e0:e1], basis[e0:e1], *context, use_reentrant=False))
        return torch.cat(parts)
