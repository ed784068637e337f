"""An E(3)-equivariant interatomic potential in the style of NequIP (Batzner et al., Nat. Commun. 13, 2453, 2022).

Energy = sum over atoms of ``scale * e_i + shift + E0[element_i]`` (eV). Per layer, for centre atom i:

    x = linear_in(h)                                                      node-wise o3.Linear
    m_i = sum_j TP(x_j, Y(r_ij); w = radial(basis(|r_ij|))) / sqrt(avg_num_neighbors)
    h <- h + Gate(linear_out(m_i) + self_connection(h_i))                 gated nonlinearity, residual

with spherical harmonics Y up to ``l_max`` and a bias-free radial MLP (so the edge weights vanish with the
basis at the cutoff). Forces are -dE/dr and the stress (1/V) dE/d(strain) by autograd (strain applied to positions
and cell). Every module declares the irreps it reads and writes (e3nn checks the fit at construction), which is what
lets adapters sit on the node-wise ``o3.Linear`` layers and on the radial MLPs.

Elements are a continuous space: ``embedding(Z) = descriptor_map(descriptor(Z)) + residual[Z]``, with descriptors
from ``scisft.potentials.elements``. An element added later gets a new residual row and E0 entry (owned by its
adapter), starts at ``descriptor_map(descriptor(Z))`` and, for gated adapters, gets masks in the adapter context
(``Potential.element_masks``): its atoms, the edges that touch one, and smooth weights of the atoms and edges near
one.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import torch
from e3nn import o3
from e3nn.nn import Gate
from torch import nn
from torch.nn import functional as F
from torch_geometric.utils import scatter

from scisft.adapters import ExtendableEmbedding, adapter_context
from scisft.errors import ConfigError, DataError
from scisft.potentials.blocks import EdgeBlocks, default_max_edges
from scisft.potentials.elements import DESCRIPTOR_SIZE, atomic_number, descriptor_table
from scisft.potentials.radial import RadialBasis


@dataclass
class PotentialConfig:
    """Architecture and fixed data statistics. cutoff in Angstrom; e0 in eV per atom of each element."""

    elements: list[str]
    cutoff: float = 5.0
    num_basis: int = 8
    l_max: int = 2
    channels: int = 32
    num_layers: int = 3
    radial_hidden: int = 64
    readout_hidden: int = 16
    descriptor_hidden: int = 32
    avg_num_neighbors: float = 10.0
    e0: dict[str, float] = field(default_factory=dict)
    scale: float = 1.0
    shift: float = 0.0

    def __post_init__(self):
        if not self.elements or len(set(self.elements)) != len(self.elements):
            raise ConfigError(f"model elements must be a non-empty list without repeats, got {self.elements}")
        for symbol in self.elements:
            atomic_number(symbol)
        if self.cutoff <= 0 or self.l_max < 0 or min(self.channels, self.num_layers, self.num_basis) < 1:
            raise ConfigError("cutoff > 0, l_max >= 0 and channels, num_layers, num_basis >= 1 are required")

    @classmethod
    def from_dict(cls, values: dict) -> PotentialConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"model config: unknown option(s) {unknown}; known: {sorted(known)}")
        return cls(**values)


def hidden_irreps(channels: int, l_max: int) -> o3.Irreps:
    """``channels`` copies of each irrep l = 0..l_max with natural parity (0e, 1o, 2e, ...)."""
    return o3.Irreps([(channels, (l, (-1) ** l)) for l in range(l_max + 1)])


def _tensor_product(irreps_node: o3.Irreps, irreps_sh: o3.Irreps, target: o3.Irreps) -> o3.TensorProduct:
    """'uvu' tensor product node x edge -> every irrep of ``target`` reachable; weights come from the edges."""
    mid, instructions = [], []
    for i, (mul, ir_in) in enumerate(irreps_node):
        for j, (_, ir_edge) in enumerate(irreps_sh):
            for ir_out in ir_in * ir_edge:
                if ir_out in target:
                    instructions.append((i, j, len(mid), "uvu", True))
                    mid.append((mul, ir_out))
    irreps_mid, perm, _ = o3.Irreps(mid).sort()
    instructions = [(i, j, perm[k], mode, train) for i, j, k, mode, train in instructions]
    return o3.TensorProduct(
        irreps_node, irreps_sh, irreps_mid, instructions, shared_weights=False, internal_weights=False
    )


class Interaction(nn.Module):
    """One message-passing layer (see module docstring)."""

    def __init__(self, irreps_in, hidden, irreps_sh, num_basis, radial_hidden, avg_num_neighbors):
        super().__init__()
        irreps_in = o3.Irreps(irreps_in)
        scalars = o3.Irreps([(m, ir) for m, ir in hidden if ir.l == 0])
        gated = o3.Irreps([(m, ir) for m, ir in hidden if ir.l > 0])
        self.gate = Gate(scalars, [F.silu], o3.Irreps(f"{gated.num_irreps}x0e"), [torch.sigmoid], gated)
        self.linear_in = o3.Linear(irreps_in, irreps_in)
        self.tp = _tensor_product(irreps_in, irreps_sh, hidden)
        self.radial = nn.Sequential(
            nn.Linear(num_basis, radial_hidden, bias=False),
            nn.SiLU(),
            nn.Linear(radial_hidden, radial_hidden, bias=False),
            nn.SiLU(),
            nn.Linear(radial_hidden, self.tp.weight_numel, bias=False),
        )
        self.linear_out = o3.Linear(self.tp.irreps_out, self.gate.irreps_in)
        self.self_connection = o3.Linear(irreps_in, self.gate.irreps_in)
        self.residual = irreps_in == self.gate.irreps_out
        self.norm = 1.0 / math.sqrt(avg_num_neighbors)
        self.fast_tp: nn.Module | None = None  # the same product by another backend: scisft.potentials.cueq

    @property
    def irreps_out(self) -> o3.Irreps:
        return self.gate.irreps_out

    def pooled_messages(self, x_neighbour, sh, basis, centre, n_centres: int) -> torch.Tensor:
        """sum_j TP(x_j, Y(r_ij); radial(basis_ij)) for centres 0..n_centres-1 (not yet normalised); ``x_neighbour``:
        the neighbour's features per edge."""
        tp = self.tp if self.fast_tp is None else self.fast_tp
        messages = tp(x_neighbour, sh, self.radial(basis))
        return scatter(messages, centre, dim=0, dim_size=n_centres, reduce="sum")

    def forward(self, h, sh, basis, edge_index, blocks: EdgeBlocks | None = None):
        """One layer; with ``blocks`` (edges sorted by centre, see ``scisft.potentials.blocks``), block by block."""
        x = self.linear_in(h)
        if blocks is None:
            pooled = self.pooled_messages(x[edge_index[1]], sh, basis, edge_index[0], h.shape[0])
        else:
            pooled = blocks.pooled(self, x, sh, basis, edge_index)
        out = self.gate(self.linear_out(pooled * self.norm) + self.self_connection(h))
        return h + out if self.residual else out


class Potential(nn.Module):
    """The potential. ``forward(batch)`` returns energy (B,) eV in float64, forces (N, 3) eV/A and stress
    (B, 3, 3) eV/A^3 in the model's dtype."""

    def __init__(self, config: PotentialConfig):
        super().__init__()
        self.config = config
        self.base_elements = list(config.elements)
        self.added: list[tuple[str, str]] = []  # (symbol, adapter) for elements added by adapters, in row order
        c = config.channels
        self.radial_basis = RadialBasis(config.cutoff, config.num_basis)
        self.irreps_sh = o3.Irreps.spherical_harmonics(config.l_max)
        self.spherical_harmonics = o3.SphericalHarmonics(self.irreps_sh, normalize=True, normalization="component")
        self.descriptor_map = nn.Sequential(
            nn.Linear(DESCRIPTOR_SIZE, config.descriptor_hidden), nn.SiLU(), nn.Linear(config.descriptor_hidden, c)
        )
        self.residual = ExtendableEmbedding(len(config.elements), c)
        nn.init.zeros_(self.residual.weight)
        self.e0 = ExtendableEmbedding(len(config.elements), 1)
        with torch.no_grad():
            self.e0.weight.copy_(torch.tensor([[config.e0.get(s, 0.0)] for s in config.elements]))
        hidden = hidden_irreps(c, config.l_max)
        layers, irreps = [], o3.Irreps(f"{c}x0e")
        for _ in range(config.num_layers):
            layers.append(
                Interaction(
                    irreps, hidden, self.irreps_sh, config.num_basis, config.radial_hidden, config.avg_num_neighbors
                )
            )
            irreps = layers[-1].irreps_out
        self.layers = nn.ModuleList(layers)
        self.readout = o3.Linear(irreps, f"{config.readout_hidden}x0e")
        self.readout_out = nn.Linear(config.readout_hidden, 1, bias=False)
        self.scale = nn.Parameter(torch.tensor(float(config.scale)))
        self.shift = nn.Parameter(torch.tensor(float(config.shift)))
        # a run-time setting, not part of the model: outside training, graphs with more edges than this run their
        # layers in blocks of this many edges (``scisft.potentials.blocks``: bounded memory, faster on a CPU, same
        # results up to rounding); None: the device's default (``blocks.MAX_EDGES``); 0: never
        self.max_block_edges: int | None = None
        self._refresh_tables()

    # -- elements ---------------------------------------------------------------------------------------------
    @property
    def elements(self) -> list[str]:
        """All elements the model knows: its own, then those added by adapters (row order)."""
        return self.base_elements + [s for s, _ in self.added]

    def _refresh_tables(self) -> None:
        type_of_z = torch.full((119,), -1, dtype=torch.long)
        for index, symbol in enumerate(self.elements):
            type_of_z[atomic_number(symbol)] = index
        ref = self.scale
        self.register_buffer("type_of_z", type_of_z.to(ref.device), persistent=False)
        self.register_buffer("descriptors", descriptor_table(self.elements).to(ref), persistent=False)

    def register_element(self, symbol: str, adapter: str) -> None:
        """Record that adapter ``adapter`` owns element ``symbol`` (its rows must already exist)."""
        if symbol in self.elements:
            raise ConfigError(f"the model already knows {symbol}")
        self.added.append((symbol, adapter))
        self._refresh_tables()

    def unregister_element(self, symbol: str) -> None:
        self.added = [(s, a) for s, a in self.added if s != symbol]
        self._refresh_tables()

    def element_types(self, z: torch.Tensor) -> torch.Tensor:
        """Type index of each atomic number; a clear error for an element the model does not know."""
        if int(z.max()) > 118 or int(z.min()) < 1:
            raise DataError(f"atomic numbers must be 1..118, got {int(z.min())}..{int(z.max())}", field="z")
        types = self.type_of_z[z]
        if bool((types < 0).any()):
            from ase.data import chemical_symbols

            unknown = sorted({chemical_symbols[int(v)] for v in z[types < 0]})
            raise DataError(
                f"element(s) {', '.join(unknown)} not in the model (it knows {', '.join(self.elements)})",
                field="species",
                fix=f"add it with `scisft potentials add-element --element {unknown[0]} ...`",
            )
        return types

    def embedding(self, types: torch.Tensor) -> torch.Tensor:
        """Node features of each atom: descriptor_map(descriptor) + residual row (channels x 0e)."""
        # map only the elements present: then adding an element leaves this matmul, and so old structures'
        # results, bit for bit the same (BLAS may block a matrix with one more row differently)
        present, index = torch.unique(types, return_inverse=True)
        return self.descriptor_map(self.descriptors[present])[index] + self.residual(types)

    def element_masks(self, types: torch.Tensor, edge_index: torch.Tensor, length: torch.Tensor) -> tuple[dict, dict]:
        """Adapter-context masks for the elements added by adapters, per atom and per edge; for element X:

        - ``atoms_<X>`` (N,) bool: its atoms; ``edges_<X>`` (E,) bool: edges that touch one;
        - ``near_<X>`` (N,) weight: 1 on its atoms, ``1 - prod_j (1 - u(r_ij))`` over its atoms j within the cutoff
          on the others (u: the radial envelope, 1 at r = 0 and 0 with two derivatives at the cutoff), so the weight
          fades smoothly and energies stay continuous as atoms enter or leave an X atom's cutoff sphere;
        - ``near_edges_<X>`` (E,) weight: ``1 - (1 - w_i)(1 - w_j)`` of the near weights of the edge's two ends.

        All are zero in a structure without X, so adapters gated by them never run there.
        """
        centre, neighbour = edge_index
        # clamped below 1 so log1p stays finite for (unphysically) short edges
        log_far_edge = torch.log1p(-self.radial_basis.envelope(length).clamp(max=1.0 - 1e-6))
        atom_masks, edge_masks = {}, {}
        for offset, (symbol, _) in enumerate(self.added):
            atoms = types == len(self.base_elements) + offset
            to_x = torch.where(atoms[neighbour], log_far_edge, torch.zeros_like(log_far_edge))
            log_far = scatter(to_x, centre, dim=0, dim_size=len(types), reduce="sum")
            near = torch.where(atoms, torch.ones_like(log_far), -torch.expm1(log_far))
            atom_masks.update({f"atoms_{symbol}": atoms, f"near_{symbol}": near})
            edge_masks.update(
                {
                    f"edges_{symbol}": atoms[centre] | atoms[neighbour],
                    f"near_edges_{symbol}": 1 - (1 - near[centre]) * (1 - near[neighbour]),
                }
            )
        return atom_masks, edge_masks

    # -- evaluation -------------------------------------------------------------------------------------------
    def forward(self, data, forces: bool = True, stress: bool = False, training: bool = False) -> dict:
        """Energies (and forces/stress) of a PyG batch of graphs from ``scisft.potentials.graph``.

        ``training=True`` keeps the graph of the force/stress computation so a loss on them can be differentiated.
        """
        dtype = self.scale.dtype
        n_graphs = int(data.num_graphs) if hasattr(data, "num_graphs") else 1
        batch = (
            data.batch
            if getattr(data, "batch", None) is not None
            else data.pos.new_zeros(len(data.pos), dtype=torch.long)
        )
        pos = data.pos.to(dtype).detach().requires_grad_(forces or stress)
        cell = data.cell.to(dtype).reshape(-1, 3, 3)
        strain = None
        if stress:
            strain = torch.zeros(n_graphs, 3, 3, dtype=dtype, device=pos.device, requires_grad=True)
            sym = 0.5 * (strain + strain.transpose(1, 2))
            pos_used = pos + torch.einsum("ni,nij->nj", pos, sym[batch])
            cell = cell + torch.bmm(cell, sym)
        else:
            pos_used = pos
        types = self.element_types(data.z)
        edge_index, edge_shift, blocks = data.edge_index, data.edge_shift, None
        max_edges = default_max_edges(pos.device) if self.max_block_edges is None else self.max_block_edges
        if not training and max_edges and edge_index.shape[1] > max_edges:
            blocks = EdgeBlocks(edge_index[0], len(types), max_edges)
            edge_index, edge_shift = edge_index[:, blocks.order], edge_shift[blocks.order]
        centre, neighbour = edge_index
        edge_cell = cell[batch[centre]]
        vec = pos_used[neighbour] - pos_used[centre] + torch.einsum("ek,ekl->el", edge_shift.to(dtype), edge_cell)
        length = vec.norm(dim=1)
        sh = self.spherical_harmonics(vec)
        basis = self.radial_basis(length)
        atom_masks, edge_masks = self.element_masks(types, edge_index, length)
        if blocks is not None:
            blocks.edge_context = edge_masks
        with adapter_context(**atom_masks, **edge_masks):
            h = self.embedding(types)
            for layer in self.layers:
                h = layer(h, sh, basis, edge_index, blocks)
            atom_energy = self.readout_out(F.silu(self.readout(h))).squeeze(-1)
        # the E0 part (large: ~ -1000 eV per C atom) is summed in float64, so total energies keep meV precision
        reference = self.e0(types).squeeze(-1).double()
        atom_energy = (self.scale * atom_energy + self.shift).double() + reference
        energy = scatter(atom_energy, batch, dim=0, dim_size=n_graphs, reduce="sum")
        out = {"energy": energy, "atom_energy": atom_energy}
        if forces or stress:
            inputs = [pos] + ([strain] if stress else [])
            grads = torch.autograd.grad(energy.sum(), inputs, create_graph=training)
            out["forces"] = -grads[0].to(dtype)
            if stress:
                volume = torch.linalg.det(data.cell.to(dtype).reshape(-1, 3, 3)).abs()
                per_volume = grads[1].to(dtype) / volume.clamp(min=1e-9)[:, None, None]
                out["stress"] = torch.where((volume > 1e-9)[:, None, None], per_volume, torch.zeros_like(per_volume))
        return out
