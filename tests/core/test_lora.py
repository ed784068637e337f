import pytest
import torch
from torch import nn

from scisft import LoRAConfig, Plan, Rule, adapter_context, adapter_names, merge, remove, set_active, unmerge
from scisft.errors import ConfigError


def mlp(dtype=torch.float64):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 3)).to(dtype)


def perturb(model, name, scale=0.3):
    """Give adapter ``name`` non-zero factors (a fresh one is zero by design)."""
    with torch.no_grad():
        for key, p in model.named_parameters():
            if f"scisft_adapters.{name}." in key:
                p.add_(scale * torch.randn_like(p))


def test_fresh_adapter_changes_nothing():
    model = mlp()
    x = torch.randn(32, 6, dtype=torch.float64)
    before = model(x)
    Plan([Rule("*", LoRAConfig(rank=2), types=(nn.Linear,))]).apply(model, "a")
    assert torch.equal(model(x), before)


def test_merged_and_unmerged_agree_and_unmerge_restores():
    model = mlp()
    base_weights = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(64, 6, dtype=torch.float64)
    base = model(x)
    Plan([Rule("*", LoRAConfig(rank=3, alpha=6.0), types=(nn.Linear,))]).apply(model, "a")
    perturb(model, "a")
    unmerged = model(x)
    assert not torch.allclose(unmerged, base)
    merge(model, "a")
    merged = model(x)
    torch.testing.assert_close(merged, unmerged, atol=1e-6, rtol=0)
    unmerge(model, "a")
    for key, value in base_weights.items():
        torch.testing.assert_close(model.state_dict()[key], value, atol=1e-12, rtol=0)
    torch.testing.assert_close(model(x), unmerged, atol=1e-12, rtol=0)


def test_training_steps_leave_frozen_parameters_bit_identical():
    model = mlp(torch.float32)
    frozen = {k: v.clone() for k, v in model.state_dict().items()}
    report = Plan([Rule("2", LoRAConfig(rank=2))]).apply(model, "a")
    assert report.trainable == 2 * 16 + 16 * 2
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    x, y = torch.randn(32, 6), torch.randn(32, 3)
    first = model(x).detach()
    for _ in range(5):
        opt.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        opt.step()
    assert not torch.allclose(model(x), first)  # the adapter did learn
    for key, value in frozen.items():
        assert torch.equal(model.state_dict()[key], value), key


def test_named_adapters_switch_and_remove():
    model = mlp()
    x = torch.randn(8, 6, dtype=torch.float64)
    base = model(x)
    plan = Plan([Rule("*", LoRAConfig(rank=2), types=(nn.Linear,))])
    plan.apply(model, "mouse")
    plan.apply(model, "rat")
    perturb(model, "mouse")
    perturb(model, "rat")
    assert adapter_names(model) == ["mouse", "rat"]
    both = model(x)
    set_active(model, "rat", False)
    only_mouse = model(x)
    assert not torch.allclose(only_mouse, both)
    set_active(model, "mouse", False)
    torch.testing.assert_close(model(x), base, atol=0, rtol=0)
    set_active(model, "rat", True)
    set_active(model, "mouse", True)
    remove(model, "rat")
    torch.testing.assert_close(model(x), only_mouse, atol=1e-12, rtol=0)
    with pytest.raises(ConfigError, match="no adapter named 'rat'"):
        remove(model, "rat")


def test_dropout_only_in_training_mode():
    model = mlp()
    Plan([Rule("0", LoRAConfig(rank=2, dropout=0.5))]).apply(model, "a")
    perturb(model, "a")
    x = torch.randn(16, 6, dtype=torch.float64)
    model.eval()
    assert torch.equal(model(x), model(x))
    model.train()
    assert not torch.equal(model(x), model(x))


def test_masked_lora_leaves_unselected_rows_bit_identical():
    model = mlp()
    x = torch.randn(10, 6, dtype=torch.float64)
    base = model(x)
    Plan([Rule("*", LoRAConfig(rank=2, mask_key="rows"), types=(nn.Linear,))]).apply(model, "a")
    perturb(model, "a")
    mask = torch.zeros(10, dtype=torch.bool)
    mask[[2, 7]] = True
    with adapter_context(rows=mask):
        out = model(x)
    assert torch.equal(out[~mask], base[~mask])
    assert not torch.allclose(out[mask], base[mask])
    with pytest.raises(ConfigError, match="adapter context"):
        model(x)
    merge(model, "a")  # a masked adapter is not mergeable: merge leaves it working as before
    with adapter_context(rows=mask):
        assert torch.equal(model(x), out)


def test_bad_names_and_hosts_are_refused():
    model = mlp()
    with pytest.raises(ConfigError, match="not usable"):
        Plan([Rule("0", LoRAConfig())]).apply(model, "bad.name")
    with pytest.raises(ConfigError, match="adapts nn.Linear"):
        Plan([Rule("1", LoRAConfig())]).apply(model, "a")
