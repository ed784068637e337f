import itertools
import random

import pytest
import torch
from e3nn import o3
from torch import nn

from scisft import LoRAConfig, Plan, Rule
from scisft.budget import allocate_ranks, budget_plan, rank_options
from scisft.errors import ConfigError


def model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.LayerNorm(8), nn.Linear(8, 2))


def test_plan_freezes_everything_else_and_reports():
    m = model()
    report = Plan([Rule("2", LoRAConfig(rank=2))], train=["3.*"]).apply(m, "a")
    base = sum(p.numel() for p in model().parameters())
    assert report.base_parameters == base
    assert report.trainable == 2 * 8 + 8 * 2 + 16
    assert dict(report.per_module) == {"2": 32, "3": 16}
    assert abs(report.fraction - 48 / base) < 1e-12
    trainable = sorted(k for k, p in m.named_parameters() if p.requires_grad)
    assert trainable == ["2.scisft_adapters.a.A", "2.scisft_adapters.a.B", "3.bias", "3.weight"]
    assert "total: 48 trainable" in str(report)


def test_rule_matching_nothing_lists_candidates():
    with pytest.raises(ConfigError) as err:
        Plan([Rule("encoder.*", LoRAConfig(), types=(nn.Linear,))]).apply(model(), "a")
    assert "matches no module" in str(err.value) and "candidates: 0, 2, 4" in str(err.value)
    with pytest.raises(ConfigError, match="matches no parameter"):
        Plan(train=["nope"]).apply(model(), "a")


def brute_force(options, budget):
    names = list(options)
    menus = [[(0, 0, 0.0)] + list(options[n]) for n in names]
    best = max(
        (combo for combo in itertools.product(*menus) if sum(o[1] for o in combo) <= budget),
        key=lambda combo: sum(o[2] for o in combo),
    )
    return sum(o[2] for o in best)


@pytest.mark.parametrize("seed", range(40))
def test_knapsack_matches_brute_force(seed):
    rng = random.Random(seed)
    options = {}
    for layer in range(rng.randint(1, 4)):
        width = rng.choice([2, 3, 4, 6])
        options[f"l{layer}"] = [(r, r * width * 2, rng.random() * r) for r in (1, 2, 4)]
    budget = rng.randint(0, 60)
    chosen = allocate_ranks(options, budget)
    lookup = {n: {r: (c, v) for r, c, v in opts} | {0: (0, 0.0)} for n, opts in options.items()}
    cost = sum(lookup[n][r][0] for n, r in chosen.items())
    value = sum(lookup[n][r][1] for n, r in chosen.items())
    assert cost <= budget
    assert value == pytest.approx(brute_force(options, budget))


def test_rank_value_is_sum_of_top_squared_singular_values():
    lin = nn.Linear(5, 3)
    grad = torch.randn(3, 5)
    s = torch.linalg.svdvals(grad.double()) ** 2
    menu = rank_options(lin, grad, (1, 2, 8))
    assert [o[0] for o in menu] == [1, 2, 8]
    assert [o[1] for o in menu] == [8, 16, 24]  # rank is capped at min(in, out) = 3
    assert menu[1][2] == pytest.approx(float(s[:2].sum()))
    e3 = o3.Linear("4x0e + 2x1o", "3x0e + 2x1o")
    g = torch.randn(e3.weight_numel)
    assert rank_options(e3, g, (1,))[0][1] == 1 * (4 + 3) + 1 * (2 + 2)


def test_budget_plan_spends_at_most_the_budget_where_the_gradient_is():
    m = model()
    x, y = torch.randn(32, 4), torch.randn(32, 2)

    def loss(net, batch):
        return ((net(batch[0]) - batch[1]) ** 2).mean()

    plan, chosen = budget_plan(m, "*", loss, [(x, y)] * 2, budget=60, ranks=(1, 2, 4))
    costs = {"0": 12, "2": 16, "4": 10}  # in + out per rank
    assert sum(costs[n] * r for n, r in chosen.items()) <= 60
    assert sum(chosen.values()) > 0
    report = plan.apply(m, "a")
    assert report.trainable <= 60
