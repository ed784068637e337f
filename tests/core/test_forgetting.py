import pytest
import torch
from torch import nn

from scisft import EWC, L2SP, LoRAConfig, OnlineEWC, Plan, ReplayMix, Rule, fisher_diagonal
from scisft.errors import ConfigError


def model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)).double()


def loss_fn(net, batch):
    x, y = batch
    return ((net(x) - y) ** 2).mean()


def batches(n=5, size=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [
        (torch.randn(size, 3, generator=g, dtype=torch.float64), torch.randn(size, 1, generator=g, dtype=torch.float64))
        for _ in range(n)
    ]


def test_fisher_is_mean_squared_gradient():
    m = model()
    data = batches()
    fisher = fisher_diagonal(m, data, loss_fn)
    expected = {k: torch.zeros_like(p) for k, p in m.named_parameters()}
    for b in data:
        m.zero_grad()
        loss_fn(m, b).backward()
        for k, p in m.named_parameters():
            expected[k] += p.grad**2 / len(data)
    for k in expected:
        torch.testing.assert_close(fisher[k], expected[k])


def test_fisher_restores_frozen_flags():
    m = model()
    m[0].weight.requires_grad_(False)
    fisher = fisher_diagonal(m, batches(), loss_fn, names=["0.weight"])
    assert fisher["0.weight"].abs().sum() > 0
    assert not m[0].weight.requires_grad and m[2].weight.requires_grad


def test_ewc_zero_at_anchor_and_matches_quadratic_form():
    m = model()
    fisher = fisher_diagonal(m, batches(), loss_fn)
    ewc = EWC.from_model(m, fisher, strength=3.0)
    assert float(ewc(m)) == 0.0
    anchor = {k: p.detach().clone() for k, p in m.named_parameters()}
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.1 * torch.randn_like(p))
    expected = 0.5 * 3.0 * sum((fisher[k] * (p - anchor[k]) ** 2).sum() for k, p in m.named_parameters())
    torch.testing.assert_close(ewc(m), expected)


def test_ewc_sees_lora_updates_as_weight_changes():
    m = model()
    fisher = fisher_diagonal(m, batches(), loss_fn)
    ewc = EWC.from_model(m, fisher, strength=1.0)
    Plan([Rule("0", LoRAConfig(rank=2))]).apply(m, "a")
    assert float(ewc(m)) == 0.0
    lora = m[0].scisft_adapters["a"]
    with torch.no_grad():
        lora.B.normal_()
    delta = lora.delta_weight()
    expected = 0.5 * (fisher["0.weight"] * delta**2).sum()
    torch.testing.assert_close(ewc(m), expected)
    ewc(m).backward()
    assert lora.B.grad is not None and lora.B.grad.abs().sum() > 0


def test_online_ewc_accumulates_with_decay_and_moves_anchor():
    m = model()
    online = OnlineEWC(strength=2.0, decay=0.5)
    assert float(online(m)) == 0.0
    f1 = fisher_diagonal(m, batches(seed=1), loss_fn)
    online.consolidate(m, f1)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.2)
    f2 = fisher_diagonal(m, batches(seed=2), loss_fn)
    online.consolidate(m, f2)
    for k in f1:
        torch.testing.assert_close(online.fisher[k], 0.5 * f1[k] + f2[k])
        torch.testing.assert_close(online.anchor[k], dict(m.named_parameters())[k].detach())
    assert float(online(m)) == 0.0
    with pytest.raises(ConfigError):
        OnlineEWC(1.0, decay=1.5)


def test_l2sp():
    m = model()
    penalty = L2SP(m, strength=4.0)
    assert float(penalty(m)) == 0.0
    with torch.no_grad():
        m[0].bias.add_(1.0)
    assert float(penalty(m)) == pytest.approx(0.5 * 4.0 * 4)


def test_replay_mix_holds_all_target_items_and_a_fresh_source_draw_each_epoch():
    target, source = list(range(10)), [100 + i for i in range(30)]
    mix = ReplayMix(target, source, ratio=0.5, seed=1)
    assert len(mix) == 15
    first = [mix[i] for i in range(len(mix))]
    assert first[:10] == target and all(v >= 100 for v in first[10:]) and len(set(first[10:])) == 5
    mix.set_epoch(1)
    assert [mix[i] for i in range(10, 15)] != first[10:]
    big = ReplayMix(target, source[:3], ratio=1.0)
    assert len(big) == 20 and sorted(set(big[i] for i in range(10, 20))) == [100, 101, 102]
