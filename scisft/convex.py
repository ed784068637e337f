"""Input-convex neural networks (Amos, Xu & Kolter, ICML 2017), optionally FiLM-modulated.

``z_1 = act(W_x0 x + b_0)``, ``z_{k+1} = act(W_zk z_k + W_xk x + b_k)``, ``f = w_z . z_K + w_x . x + b``, with every
``W_z`` non-negative (softplus of a free parameter) and ``act`` convex and non-decreasing (softplus). Then ``f`` is
convex in ``x`` by construction. With ``monotone=True`` the ``W_x`` are non-negative too, and ``f`` is also
non-decreasing in every input (what a convex function of convex invariants needs to stay convex).

Hidden units may be modulated, ``z_k -> s_k * z_k + t_k``, with ``s_k > 0`` (see ``scisft.adapters.film``): this
keeps convexity, because each hidden unit stays a convex function of ``x`` and the next combination is non-negative.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from scisft.errors import ConfigError


class PositiveLinear(nn.Module):
    """``x -> softplus(V) x``: a linear map with non-negative weights (no bias)."""

    def __init__(self, in_features: int, out_features: int, init_scale: float = 1.0):
        super().__init__()
        # softplus(raw) ~ init_scale / in_features on average: keeps activations O(1) as depth grows
        target = init_scale / max(in_features, 1)
        raw = torch.log(torch.expm1(torch.full((out_features, in_features), target)))
        self.raw_weight = nn.Parameter(raw + 0.1 * torch.randn(out_features, in_features))

    @property
    def weight(self) -> torch.Tensor:
        return F.softplus(self.raw_weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight)


class InputConvexNet(nn.Module):
    """A scalar function convex in its input ``x`` (..., in_dim); hidden widths in ``hidden``."""

    def __init__(self, in_dim: int, hidden: list[int] | tuple[int, ...] = (16, 16), monotone: bool = False):
        super().__init__()
        if in_dim < 1 or not hidden or min(hidden) < 1:
            raise ConfigError(
                f"input-convex net needs in_dim >= 1 and non-empty positive widths, got {in_dim}, {hidden}"
            )
        self.hidden = list(hidden)
        skip = PositiveLinear if monotone else nn.Linear
        self.from_input = nn.ModuleList([skip(in_dim, h) for h in hidden] + [skip(in_dim, 1)])
        self.biases = nn.ParameterList([nn.Parameter(torch.zeros(h)) for h in hidden] + [nn.Parameter(torch.zeros(1))])
        widths = self.hidden + [1]
        self.from_hidden = nn.ModuleList([PositiveLinear(widths[k], widths[k + 1]) for k in range(len(hidden))])

    def forward(
        self, x: torch.Tensor, modulations: list[tuple[torch.Tensor, torch.Tensor]] | None = None
    ) -> torch.Tensor:
        """f(x), shape (...,). ``modulations[k] = (scale > 0, shift)`` for hidden layer k, or None."""
        if modulations is not None and len(modulations) != len(self.hidden):
            raise ConfigError(f"expected {len(self.hidden)} (scale, shift) pairs, got {len(modulations)}")
        z = None
        for k in range(len(self.hidden)):
            pre = self.from_input[k](x) + self.biases[k]
            z = F.softplus(pre if z is None else pre + self.from_hidden[k - 1](z))
            if modulations is not None:
                scale, shift = modulations[k]
                z = scale * z + shift
        out = self.from_input[-1](x) + self.from_hidden[-1](z) + self.biases[-1]
        return out.squeeze(-1)
