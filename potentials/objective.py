"""What a potential is trained on and scored by: the loss, and error metrics in the units people report.

Loss (per batch, means over structures / force components):
``energy * ((E - E_ref) / N)^2 + forces * |F - F_ref|^2 + stress * ((sigma - sigma_ref) V / N)^2``,
i.e. energy per atom (eV), forces (eV/Angstrom) and the virial per atom (eV), so all three terms are in eV^2-like
units and the weights are plain numbers. Structures without forces or stress simply do not enter those terms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from ase import units
from torch_geometric.data import Data

from scisft.potentials.data import collate


@dataclass
class LossWeights:
    """Weights of the energy-per-atom, force and virial-per-atom terms."""

    energy: float = 10.0
    forces: float = 1.0
    stress: float = 10.0


def _masked_mean_square(diff: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    if not bool(mask.any()):
        return diff.new_zeros(())
    return diff[mask].pow(2).mean()


def potential_loss(model, batch, weights: LossWeights) -> tuple[torch.Tensor, dict[str, float]]:
    """The training loss of one batch and its parts (RMSE per term, in eV/atom, eV/Angstrom, eV/atom)."""
    want_stress = weights.stress > 0 and bool(batch.has_stress.any())
    out = model(batch, forces=True, stress=want_stress, training=True)
    dtype = out["forces"].dtype
    n = batch.n_atoms.to(dtype)
    e_term = ((out["energy"] - batch.energy) / batch.n_atoms).pow(2).mean().to(dtype)
    f_mask = batch.has_forces[batch.batch]
    f_term = _masked_mean_square(out["forces"] - batch.forces.to(dtype), f_mask)
    loss = weights.energy * e_term + weights.forces * f_term
    parts = {"energy_rmse": float(e_term.detach().sqrt()), "forces_rmse": float(f_term.detach().sqrt())}
    if want_stress:
        volume = torch.linalg.det(batch.cell.to(dtype)).abs()
        virial = (out["stress"] - batch.stress.to(dtype)) * (volume / n)[:, None, None]
        s_term = _masked_mean_square(virial, batch.has_stress)
        loss = loss + weights.stress * s_term
        parts["virial_rmse"] = float(s_term.detach().sqrt())
    return loss, parts


def predict(model, graphs: Sequence[Data], batch_size: int = 16, stress: bool = True) -> dict[str, list]:
    """Model predictions for ``graphs``: energy (eV) per structure, forces (eV/A) and stress (eV/A^3) per structure."""
    was_training = model.training
    model.eval()
    found: dict[str, list] = {"energy": [], "forces": [], "stress": []}
    for start in range(0, len(graphs), batch_size):
        part = list(graphs[start : start + batch_size])
        batch = collate(part)
        with_stress = stress and bool(batch.periodic.any())
        out = model(batch, forces=True, stress=with_stress)
        found["energy"] += out["energy"].detach().tolist()
        forces = out["forces"].detach()
        found["forces"] += [forces[batch.batch == k].numpy() for k in range(len(part))]
        found["stress"] += [out["stress"][k].detach().numpy() if with_stress else None for k in range(len(part))]
    model.train(was_training)
    return found


def error_metrics(model, graphs: Sequence[Data], batch_size: int = 16, predictions: dict | None = None) -> dict:
    """Errors against the graphs' labels: energy MAE (meV/atom, meV), force MAE/RMSE (meV/A), stress MAE (GPa).

    ``predictions`` (from ``predict``) saves predicting again when the caller already has them.
    """
    pred = predictions if predictions is not None else predict(model, graphs, batch_size)
    n = np.array([g.num_nodes for g in graphs], dtype=float)
    e_ref = np.array([float(g.energy) for g in graphs])
    de = np.abs(np.array(pred["energy"]) - e_ref)
    metrics = {
        "structures": len(graphs),
        "energy_mae_mev_per_atom": float(np.mean(de / n) * 1000),
        "energy_mae_mev": float(np.mean(de) * 1000),
    }
    with_forces = [k for k, g in enumerate(graphs) if bool(g.has_forces)]
    if with_forces:
        df = np.concatenate([(pred["forces"][k] - graphs[k].forces.numpy()).ravel() for k in with_forces])
        metrics["force_mae_mev_per_A"] = float(np.mean(np.abs(df)) * 1000)
        metrics["force_rmse_mev_per_A"] = float(np.sqrt(np.mean(df**2)) * 1000)
    with_stress = [k for k, g in enumerate(graphs) if bool(g.has_stress) and pred["stress"][k] is not None]
    if with_stress:
        ds = np.concatenate([(pred["stress"][k] - graphs[k].stress[0].numpy()).ravel() for k in with_stress])
        metrics["stress_mae_gpa"] = float(np.mean(np.abs(ds)) / units.GPa)
    return metrics
