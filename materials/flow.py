"""Flow stress of hot metal, sigma(strain, strain rate, T), with the monotonicity a metallurgist expects.

    z = ln(rate / 1 s^-1) + Q / (R T) + c(T)          (a Zener-Hollomon parameter, ln Z, with a learned Q > 0)
    sigma = s0 * A(T) * N(strain, z)                  (MPa)

By construction: N >= 0 is non-decreasing in z (non-negative weights on every path from z, increasing
activations) and free in the strain (flow curves rise, peak and soften); A(T) > 0 and c(T) are non-increasing in
T (the temperature-modulation subnetwork). So sigma rises with strain rate and falls with temperature everywhere.
A base fit trains N and Q with A = 1, c = 0; adapting to a new temperature trains only a copy of the modulation
subnetwork (see ``scisft.materials.fitting``), with the base temperatures' curves replayed.

Classic laws fitted as baselines (least squares on relative error): Johnson-Cook,
``sigma = (A + B e^n)(1 + C ln(rate/rate0))(1 - T*^m)``, T* = (T - T_r)/(T_m - T_r), and Hansel-Spittel,
``ln sigma = ln A + m1 T + m2 ln e + m3 ln rate + m4/e + m5 T ln(1+e) + m7 e + m8 T ln rate + m9 ln T`` (T in C).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from scipy.optimize import least_squares
from torch import nn
from torch.nn import functional as F_

from scisft.errors import ConfigError, DataError
from scisft.materials.free_energy import check_temperature

R_GAS = 8.314462618  # J/(mol K)


@dataclass
class FlowConfig:
    """hidden: widths of N; t_range_k: validity range (K); stress_scale s0 (MPa); z_center/z_scale: fixed at fit."""

    hidden: tuple[int, ...] = (16, 16)
    t_range_k: tuple[float, float] = (1273.15, 1573.15)
    stress_scale: float = 100.0
    z_center: float = 20.0
    z_scale: float = 5.0
    modulation_knots: int = 4

    def __post_init__(self):
        self.hidden = tuple(self.hidden)
        self.t_range_k = tuple(float(t) for t in self.t_range_k)
        if not 0 < self.t_range_k[0] < self.t_range_k[1] or self.z_scale <= 0 or not self.hidden:
            raise ConfigError("flow law: need 0 < T_lo < T_hi, z_scale > 0 and at least one hidden layer")

    @classmethod
    def from_dict(cls, values: dict) -> FlowConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        if set(values) - known:
            raise ConfigError(f"flow config: unknown option(s) {sorted(set(values) - known)}")
        return cls(**values)


class PositiveLinear(nn.Linear):
    """Linear map with non-negative weights (softplus of the stored ones)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F_.linear(x, F_.softplus(self.weight), self.bias)


class MonotoneNet(nn.Module):
    """N(strain, z) >= 0, non-decreasing in z, free in strain."""

    def __init__(self, hidden: tuple[int, ...]):
        super().__init__()
        self.strain_in = nn.Linear(2, hidden[0])
        self.z_in = PositiveLinear(1, hidden[0], bias=False)
        self.layers = nn.ModuleList(PositiveLinear(a, b) for a, b in zip(hidden[:-1], hidden[1:]))
        self.out = PositiveLinear(hidden[-1], 1)

    def forward(self, strain: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        features = torch.stack([strain, strain.clamp(min=0).sqrt()], -1)
        h = F_.softplus(self.strain_in(features) + self.z_in(z.unsqueeze(-1)))
        for layer in self.layers:
            h = F_.softplus(layer(h))
        return F_.softplus(self.out(h)).squeeze(-1)


class FlowModulation(nn.Module):
    """(ln A(T), c(T)), both non-increasing in T on the validity range; zero at start."""

    def __init__(self, t_range: tuple[float, float], knots: int = 4):
        super().__init__()
        self.t_range = t_range
        self.offset = nn.Parameter(torch.zeros(2))
        self.weights = nn.Parameter(torch.full((2, knots), -8.0))
        self.register_buffer("knots", torch.linspace(0.0, 1.0, knots))

    def forward(self, T: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lo, hi = self.t_range
        s = ((T - lo) / (hi - lo)).unsqueeze(-1)
        ramps = F_.softplus(8.0 * (s - self.knots)) / 8.0  # increasing in T
        out = self.offset - (F_.softplus(self.weights).unsqueeze(0) * ramps.unsqueeze(-2)).sum(-1)
        return out[..., 0], out[..., 1]


class FlowStress(nn.Module):
    """sigma(strain, rate, T) in MPa (see module docstring)."""

    def __init__(self, config: FlowConfig):
        super().__init__()
        self.config = config
        self.net = MonotoneNet(config.hidden)
        self.modulation = FlowModulation(config.t_range_k, config.modulation_knots)
        self.activation = nn.Parameter(torch.tensor(float(np.log(np.expm1(3.0)))))  # Q = 100 kJ/mol * softplus

    @property
    def activation_energy(self) -> torch.Tensor:
        """Q in J/mol."""
        return 1e5 * F_.softplus(self.activation)

    def forward(self, strain: torch.Tensor, rate: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
        check_temperature(T, self.config.t_range_k)
        if bool((rate <= 0).any()) or bool((strain < 0).any()):
            raise DataError("strain rates must be positive and strains non-negative", field="strain_rate_per_s")
        log_a, shift = self.modulation(T)
        z = torch.log(rate) + self.activation_energy / (R_GAS * T) + shift
        z = (z - self.config.z_center) / self.config.z_scale
        return self.config.stress_scale * torch.exp(log_a) * self.net(strain, z)


def flow_inputs(table: pd.DataFrame, dtype=torch.float64) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return tuple(
        torch.tensor(table[c].to_numpy(dtype=float), dtype=dtype)
        for c in ("strain", "strain_rate_per_s", "temperature_K")
    )


class JohnsonCook:
    """Johnson-Cook flow stress; ``melting_k`` is the melting point used in T* (steel: ~1773 K)."""

    def __init__(self, melting_k: float = 1773.0, reference_rate: float = 1.0):
        self.melting_k, self.reference_rate = melting_k, reference_rate
        self.params = np.array([50.0, 50.0, 0.3, 0.1, 1.0])
        self.reference_k = None

    def _predict(self, p, e, rate, T):
        a, b, n, c, m = p
        t_star = np.clip((T - self.reference_k) / (self.melting_k - self.reference_k), 0, 1)
        return (
            (a + b * np.power(np.maximum(e, 1e-9), n)) * (1 + c * np.log(rate / self.reference_rate)) * (1 - t_star**m)
        )

    def fit(self, table: pd.DataFrame) -> JohnsonCook:
        e, rate, T, s = (
            table[c].to_numpy(float) for c in ("strain", "strain_rate_per_s", "temperature_K", "stress_MPa")
        )
        self.reference_k = float(T.min())
        result = least_squares(
            lambda p: (self._predict(p, e, rate, T) - s) / s,
            self.params,
            bounds=([0, 0, 0, 0, 0.05], [1e4, 1e4, 3, 5, 10]),
        )
        self.params = result.x
        return self

    def predict(self, table: pd.DataFrame) -> np.ndarray:
        return self._predict(
            self.params, *(table[c].to_numpy(float) for c in ("strain", "strain_rate_per_s", "temperature_K"))
        )


class HanselSpittel:
    """Hansel-Spittel flow stress (9-parameter form, T in C), fitted by linear least squares on ln sigma."""

    def __init__(self):
        self.coef = None

    @staticmethod
    def _design(table: pd.DataFrame) -> np.ndarray:
        e = np.maximum(table["strain"].to_numpy(float), 1e-3)
        rate = table["strain_rate_per_s"].to_numpy(float)
        t = table["temperature_K"].to_numpy(float) - 273.15
        return np.stack(
            [np.ones_like(e), t, np.log(e), np.log(rate), 1 / e, t * np.log1p(e), e, t * np.log(rate), np.log(t)],
            axis=1,
        )

    def fit(self, table: pd.DataFrame) -> HanselSpittel:
        self.coef, *_ = np.linalg.lstsq(self._design(table), np.log(table["stress_MPa"].to_numpy(float)), rcond=None)
        return self

    def predict(self, table: pd.DataFrame) -> np.ndarray:
        return np.exp(self._design(table) @ self.coef)
