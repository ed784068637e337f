"""Message passing in blocks of edges, so that memory stays bounded and cost linear for large systems.

One layer's per-edge tensors (the tensor product's inputs, outputs and intermediates, kept for the force backward
pass) dominate peak memory: about 35 kB per edge at 64 channels and l_max = 2, so 5 GB for ~2000 atoms of a
liquid. ``EdgeBlocks`` sorts the edges by centre atom and cuts them into blocks of whole centre atoms (no atom's
edges are split, so each block's pooled messages are final rows of the layer's output). The forward pass runs the
blocks one after another without keeping their intermediates; the backward pass recomputes each block and adds its
gradients in place into the per-atom and per-edge gradients (``BlockedMessages``). Peak memory is then one block's
intermediates plus per-atom and per-edge inputs, and the time stays linear: autograd's own recomputation
(``torch.utils.checkpoint``) would allocate a zero gradient of every atom's features for each block, which is
quadratic in the number of atoms (at 10^5 atoms, thousands of blocks times 200 MB).

Per-edge adapter-context tensors (the gated adapters' edge masks, whose smooth weights depend on distances and so
carry forces) are sliced with their block. Results equal the unblocked computation up to float rounding (sums in
another order). Blocks are for evaluation (MD, ``evaluate``): the backward pass is not itself differentiable, and
training on forces keeps the force computation's graph for the weight gradients, so blocks would save no memory
there; ``Potential`` runs training batches unblocked.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.autograd.function import once_differentiable

from scisft.adapters import adapter_context

# edges per block, by device type. CPU: small blocks stay in cache and are faster than one large pass (production
# model, ethanol liquid, one thread: 5.3 ms/atom at 1125 atoms with 2048 edges per block, 13.0 ms/atom unblocked;
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

    def pooled(self, layer: nn.Module, x, sh, basis, edge_index) -> torch.Tensor:
        """``layer.pooled_messages`` for all atoms (N, F), block by block on the sorted edges (``edge_index``)."""
        context = list(self.edge_context.values())
        params = [p for p in layer.parameters() if p.requires_grad]
        return BlockedMessages.apply(self, layer, edge_index, len(context), x, sh, basis, *context, *params)

    def block_messages(self, layer, block: int, x, sh, basis, edge_index, leaves=()):
        """Block ``block``'s pooled messages, and the inputs named in ``leaves`` ('x': the gathered neighbour
        features, 'sh', 'basis' or a context key) as the detached leaves it was computed from, {name: leaf}."""
        (a0, a1), (e0, e1) = self.atom_ranges[block], self.edge_ranges[block]
        neighbour = edge_index[1, e0:e1]
        inputs = {"x": x[neighbour], "sh": sh[e0:e1], "basis": basis[e0:e1]}
        inputs.update({key: value[e0:e1] for key, value in self.edge_context.items()})
        found = {}
        for name in leaves:
            inputs[name] = found[name] = inputs[name].detach().requires_grad_()
        with adapter_context(**{key: inputs[key] for key in self.edge_context}):
            out = layer.pooled_messages(inputs["x"], inputs["sh"], inputs["basis"], edge_index[0, e0:e1] - a0, a1 - a0)
        return out, found


class BlockedMessages(torch.autograd.Function):
    """A layer's pooled messages, block by block; the backward pass recomputes one block at a time and accumulates
    its gradients in place (gathered neighbour features: ``index_add_``; per-edge inputs: their own rows)."""

    @staticmethod
    def forward(ctx, blocks, layer, edge_index, n_context, x, sh, basis, *rest):
        ctx.blocks, ctx.layer = blocks, layer  # the context tensors (rest[:n_context]) stay in blocks.edge_context
        ctx.save_for_backward(edge_index, x, sh, basis, *rest[n_context:])
        return torch.cat([blocks.block_messages(layer, b, x, sh, basis, edge_index)[0] for b in range(len(blocks))])

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        blocks, layer = ctx.blocks, ctx.layer
        edge_index, x, sh, basis, *params = ctx.saved_tensors
        needs = dict(zip(["x", "sh", "basis", *blocks.edge_context], ctx.needs_input_grad[4:], strict=False))
        edge_inputs = {"sh": sh, "basis": basis, **blocks.edge_context}
        grads = {name: torch.zeros_like(value) for name, value in edge_inputs.items() if needs[name]}
        grad_x = torch.zeros_like(x) if needs["x"] else None
        grad_params = [torch.zeros_like(p) for p in params]
        wanted = [name for name, need in needs.items() if need]
        with torch.enable_grad():
            for b, ((a0, a1), (e0, e1)) in enumerate(zip(blocks.atom_ranges, blocks.edge_ranges, strict=True)):
                out, leaves = blocks.block_messages(layer, b, x, sh, basis, edge_index, wanted)
                result = torch.autograd.grad(out, [*leaves.values(), *params], grad_out[a0:a1], allow_unused=True)
                for name, grad in zip(leaves, result, strict=False):
                    if grad is None:
                        continue
                    if name == "x":
                        grad_x.index_add_(0, edge_index[1, e0:e1], grad)
                    else:
                        grads[name][e0:e1] = grad
                for total, grad in zip(grad_params, result[len(leaves) :], strict=True):
                    if grad is not None:
                        total += grad
        context_grads = [grads.get(key) for key in blocks.edge_context]
        return None, None, None, None, grad_x, grads.get("sh"), grads.get("basis"), *context_grads, *grad_params
