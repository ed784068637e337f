"""Radial features of an edge: Bessel basis times a smooth polynomial cutoff (NequIP's choice).

``bessel_n(r) = sqrt(2 / r_c) sin(n pi r / r_c) / r`` for n = 1..N, multiplied by the envelope
``u(x) = 1 - (p+1)(p+2)/2 x^p + p(p+2) x^(p+1) - p(p+1)/2 x^(p+2)`` with x = r / r_c (u = 0 for x >= 1), which
goes to zero at the cutoff with its first two derivatives (Klicpera et al., DimeNet, ICLR 2020). Units: r in Angstrom.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class RadialBasis(nn.Module):
    """Edge lengths (E,) in Angstrom -> smooth radial features (E, num_basis) that vanish at the cutoff."""

    def __init__(self, cutoff: float, num_basis: int = 8, p: int = 6):
        super().__init__()
        self.cutoff, self.p = float(cutoff), int(p)
        self.register_buffer("frequencies", math.pi * torch.arange(1, num_basis + 1, dtype=torch.get_default_dtype()))

    def envelope(self, r: torch.Tensor) -> torch.Tensor:
        x = r / self.cutoff
        p = self.p
        u = 1 - (p + 1) * (p + 2) / 2 * x**p + p * (p + 2) * x ** (p + 1) - p * (p + 1) / 2 * x ** (p + 2)
        return u * (x < 1)

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        x = (r / self.cutoff).unsqueeze(-1)
        bessel = math.sqrt(2.0 / self.cutoff) * torch.sin(self.frequencies * x) / r.unsqueeze(-1)
        return bessel * self.envelope(r).unsqueeze(-1)
