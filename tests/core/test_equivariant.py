import pytest
import torch
from e3nn import o3
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from scisft import (
    EquivariantLoRAConfig,
    GatedEquivariantConfig,
    Plan,
    Rule,
    adapter_context,
    merge,
    set_active,
    unmerge,
)

IRREPS_IN = o3.Irreps("8x0e + 4x0o + 4x1o + 3x1e + 2x2e")
IRREPS_OUT = o3.Irreps("6x0e + 2x0o + 3x1o + 3x1e + 2x2e")


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = o3.Linear(IRREPS_IN, IRREPS_OUT)

    def forward(self, x):
        return self.lin(x)


def trained(config, steps=10, seed=0):
    """An o3.Linear with an adapter that took a few random training steps (so its factors are non-zero)."""
    torch.manual_seed(seed)
    model = Block().double()
    Plan([Rule("lin", config)]).apply(model, "new")
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=0.05)
    x = IRREPS_IN.randn(16, -1, dtype=torch.float64)
    y = IRREPS_OUT.randn(16, -1, dtype=torch.float64)
    for _ in range(steps):
        opt.zero_grad()
        with adapter_context(rows=torch.ones(16, dtype=torch.bool)):
            ((model(x) - y) ** 2).mean().backward()
        opt.step()
    return model


def random_orthogonal(seed: int) -> torch.Tensor:
    """A random rotation, composed with inversion for odd seeds (so reflections are tested too)."""
    torch.manual_seed(seed)
    R = o3.rand_matrix(dtype=torch.float64)
    return R if seed % 2 == 0 else -R


def equivariance_error(model, Q, mask=None) -> float:
    x = IRREPS_IN.randn(32, -1, dtype=torch.float64)
    D_in, D_out = IRREPS_IN.D_from_matrix(Q), IRREPS_OUT.D_from_matrix(Q)
    with adapter_context(rows=mask if mask is not None else torch.ones(32, dtype=torch.bool)):
        return float((model(x @ D_in.T) - model(x) @ D_out.T).abs().max().detach())


CONFIGS = [
    EquivariantLoRAConfig(rank=2),
    EquivariantLoRAConfig(rank=3, alpha=1.5, mask_key="rows"),
    GatedEquivariantConfig(rank=2),
    GatedEquivariantConfig(rank=2, mask_key="rows"),
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.method}-{c.mask_key}")
@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_adapted_linear_is_equivariant_at_init_and_after_training(config, seed):
    Q = random_orthogonal(seed)
    assert equivariance_error(trained(config, steps=0, seed=seed), Q) < 1e-5
    model = trained(config, steps=10, seed=seed)
    mask = torch.rand(32) < 0.5
    assert equivariance_error(model, Q, mask) < 1e-5


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.method}-{c.mask_key}")
def test_adapter_actually_changes_the_output(config):
    adapted = trained(config)
    x = IRREPS_IN.randn(8, -1, dtype=torch.float64)
    with adapter_context(rows=torch.ones(8, dtype=torch.bool)):
        on = adapted(x)
        set_active(adapted, "new", False)
        off = adapted(x)
    assert not torch.allclose(on, off)


def test_non_equivariant_update_is_caught():
    """Negative control: a plain low-rank update across the flattened features breaks equivariance."""
    model = trained(EquivariantLoRAConfig(rank=2))
    torch.manual_seed(1)
    leak = 0.1 * torch.randn(IRREPS_OUT.dim, IRREPS_IN.dim, dtype=torch.float64)
    model.lin.register_forward_hook(lambda m, i, o: o + i[0] @ leak.T)
    assert equivariance_error(model, random_orthogonal(3)) > 1e-3


def test_equivariant_lora_merges_exactly():
    model = trained(EquivariantLoRAConfig(rank=2))
    x = IRREPS_IN.randn(8, -1, dtype=torch.float64)
    before = model(x)
    weight = model.lin.weight.detach().clone()
    merge(model, "new")
    torch.testing.assert_close(model(x), before, atol=1e-10, rtol=0)
    unmerge(model, "new")
    torch.testing.assert_close(model.lin.weight, weight, atol=1e-12, rtol=0)
