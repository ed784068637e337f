"""Bottleneck, BitFit, norm-affine, FiLM and extendable embeddings."""

import pytest
import torch
from torch import nn

from scisft import (
    BitFitConfig,
    BottleneckConfig,
    ExtendableEmbedding,
    FiLM,
    FiLMConfig,
    NormAffineConfig,
    Plan,
    Rule,
    adapter_context,
    adapter_parameters,
    merge,
    unmerge,
)
from scisft.convex import InputConvexNet
from scisft.errors import ConfigError


def randomise(model, name):
    with torch.no_grad():
        for p in adapter_parameters(model, name).values():
            p.add_(0.2 * torch.randn_like(p))


def net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 12), nn.LayerNorm(12), nn.SiLU(), nn.Linear(12, 4)).double()


@pytest.mark.parametrize(
    "rule",
    [
        Rule("0", BottleneckConfig(hidden=4)),
        Rule("*", BitFitConfig(), types=(nn.Linear,)),
        Rule("1", NormAffineConfig()),
        Rule("3", FiLMConfig(cond_dim=2, condition_key="c")),
    ],
    ids=lambda r: r.method.method,
)
def test_fresh_adapter_is_identity_and_trained_one_is_not(rule):
    model = net()
    x, c = torch.randn(7, 5, dtype=torch.float64), torch.randn(7, 2, dtype=torch.float64)
    base = model(x)
    Plan([rule]).apply(model, "a")
    with adapter_context(c=c):
        assert torch.equal(model(x), base)
        randomise(model, "a")
        assert not torch.allclose(model(x), base)


@pytest.mark.parametrize("rule", [Rule("*", BitFitConfig(), types=(nn.Linear,)), Rule("1", NormAffineConfig())])
def test_bias_and_norm_adapters_merge_exactly(rule):
    model = net()
    x = torch.randn(9, 5, dtype=torch.float64)
    base_state = {k: v.clone() for k, v in model.state_dict().items()}
    Plan([rule]).apply(model, "a")
    randomise(model, "a")
    before = model(x)
    merge(model, "a")
    torch.testing.assert_close(model(x), before, atol=1e-10, rtol=0)
    unmerge(model, "a")
    for k, v in base_state.items():
        torch.testing.assert_close(model.state_dict()[k], v, atol=1e-12, rtol=0)


def test_batchnorm_channels_first():
    model = nn.Sequential(nn.Conv1d(3, 6, 3), nn.BatchNorm1d(6)).double().eval()
    x = torch.randn(4, 3, 10, dtype=torch.float64)
    Plan([Rule("1", NormAffineConfig()), Rule("0", BitFitConfig())]).apply(model, "a")
    randomise(model, "a")
    before = model(x)
    merge(model, "a")
    torch.testing.assert_close(model(x), before, atol=1e-10, rtol=0)


def icnn_with_film(positive: bool, seed: int):
    torch.manual_seed(seed)
    icnn = InputConvexNet(3, hidden=(12, 12)).double()
    films = nn.ModuleList([FiLM(2, 12, positive_scale=positive) for _ in range(2)]).double()
    with torch.no_grad():  # a trained-looking modulation, far from the identity
        for f in films:
            f.net[-1].weight.normal_(0, 3.0)
            f.net[-1].bias.normal_(0, 3.0)

    def f(x, c):
        return icnn(x, [film.modulation(c) for film in films])

    return f


def midpoint_gaps(f, seed: int, n: int = 2000) -> torch.Tensor:
    """f((a+b)/2) - (f(a)+f(b))/2 along random segments and random conditions (<= 0 where convex)."""
    g = torch.Generator().manual_seed(seed)
    a = 3 * torch.randn(n, 3, generator=g, dtype=torch.float64)
    b = 3 * torch.randn(n, 3, generator=g, dtype=torch.float64)
    c = 2 * torch.randn(n, 2, generator=g, dtype=torch.float64)
    return f((a + b) / 2, c) - (f(a, c) + f(b, c)) / 2


@pytest.mark.parametrize("seed", range(5))
def test_positive_film_keeps_input_convex_net_convex(seed):
    assert midpoint_gaps(icnn_with_film(True, seed), seed).max() <= 1e-10


def test_unconstrained_film_can_break_convexity():
    """Negative control: with scales of either sign the midpoint test does find violations."""
    worst = max(float(midpoint_gaps(icnn_with_film(False, s), s).max().detach()) for s in range(5))
    assert worst > 1e-3


def test_extendable_embedding_keeps_old_rows_and_trains_new_ones():
    emb = ExtendableEmbedding(4, 3)
    old = emb.weight.detach().clone()
    idx = emb.extend("O", 2)
    assert idx == [4, 5] and emb.num_embeddings == 6
    Plan().apply(emb, "O")
    assert not emb.weight.requires_grad and adapter_parameters(emb, "O")["scisft_adapters.O"].requires_grad
    opt = torch.optim.SGD([p for p in emb.parameters() if p.requires_grad], lr=0.5)
    (emb(torch.tensor([0, 4, 5])) - 1.0).pow(2).sum().backward()
    opt.step()
    assert torch.equal(emb.weight, old)
    assert emb(torch.tensor([4])).abs().sum() > 0
    with pytest.raises(ConfigError, match="already has rows"):
        emb.extend("O", 1)
    with pytest.raises(ConfigError, match="shape"):
        emb.extend("N", torch.zeros(1, 5))


def test_copy_adapter_trains_a_copy_and_leaves_the_original():
    from scisft import CopyConfig, set_active

    model = net()
    x = torch.randn(5, 5, dtype=torch.float64)
    base = model(x)
    originals = {k: v.clone() for k, v in model.state_dict().items()}
    report = Plan([Rule("3", CopyConfig())]).apply(model, "a")
    assert report.trainable == 12 * 4 + 4
    assert torch.equal(model(x), base)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    (model(x) - 1).pow(2).sum().backward()
    opt.step()
    assert not torch.allclose(model(x), base)
    for k, v in originals.items():
        assert torch.equal(model.state_dict()[k], v)
    set_active(model, "a", False)
    assert torch.equal(model(x), base)
