"""ASE calculator: energy (eV), forces (eV/Angstrom), stress (eV/Angstrom^3, periodic cells) and per-atom energies.

    from scisft.potentials import ScisftCalculator
    atoms.calc = ScisftCalculator("model_dir", adapter="adapter_dir", dtype="float64")

Adapters that can be merged into the base weights are merged for inference (no extra cost); element-gated adapters
stay as they are and cost only on the new element's atoms and edges.

``tensor_product="cuequivariance"`` computes the tensor products with NVIDIA's cuEquivariance (fused CUDA kernels
on a GPU; see ``scisft.potentials.cueq``); the default is e3nn.

``compile=True`` runs the model through ``torch.compile`` (dynamic shapes, so the changing neighbour count of MD
does not recompile): the first call compiles (about a minute on a CPU, seconds with a warm cache); later calls
took 0.57-0.64x the eager time on a 1125-atom box on one CPU thread (benchmarks/speed_vs_mace.py).
"""

from __future__ import annotations

import os

import numpy as np
import torch
from ase.calculators.calculator import Calculator, all_changes
from torch_geometric.data import Batch

from scisft.adapters import adapter_names, merge
from scisft.errors import ConfigError
from scisft.potentials.cueq import use_cuequivariance
from scisft.potentials.graph import atoms_to_graph
from scisft.potentials.model import Potential
from scisft.potentials.store import load

DTYPES = {"float32": torch.float32, "float64": torch.float64}


class ScisftCalculator(Calculator):
    implemented_properties = ["energy", "free_energy", "forces", "stress", "energies"]

    def __init__(
        self,
        model: Potential | str | os.PathLike,
        adapter=None,
        device: str = "cpu",
        dtype: str = "float64",
        merge_adapters: bool = True,
        compile: bool = False,
        tensor_product: str = "e3nn",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if dtype not in DTYPES:
            raise ConfigError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
        if tensor_product not in ("e3nn", "cuequivariance"):
            raise ConfigError(f"tensor_product must be 'e3nn' or 'cuequivariance', got {tensor_product!r}")
        if isinstance(model, Potential):
            if adapter is not None:
                raise ConfigError("pass adapters with a model directory, or load them onto the model first")
        else:
            model = load(model, adapter)
        self.model = model.to(device=device, dtype=DTYPES[dtype]).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        if merge_adapters:
            for name in adapter_names(self.model):
                merge(self.model, name)
        if tensor_product == "cuequivariance":
            use_cuequivariance(self.model)
        self.device = torch.device(device)
        self.forward = torch.compile(self.model, dynamic=True) if compile else self.model

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        graph = atoms_to_graph(self.atoms, self.model.config.cutoff, labels=False)
        batch = Batch.from_data_list([graph]).to(self.device)
        want_stress = "stress" in properties and bool(self.atoms.pbc.any())
        out = self.forward(batch, forces=True, stress=want_stress)
        energy = float(out["energy"][0].detach())
        self.results = {
            "energy": energy,
            "free_energy": energy,
            "forces": out["forces"].detach().cpu().numpy().astype(float),
            "energies": out["atom_energy"].detach().cpu().numpy().astype(float),
        }
        if want_stress:
            s = out["stress"][0].detach().cpu().numpy()
            self.results["stress"] = np.array([s[0, 0], s[1, 1], s[2, 2], s[1, 2], s[0, 2], s[0, 1]], dtype=float)
