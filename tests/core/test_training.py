import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from scisft import CheckpointError, ConfigError, Plan, ScisftError, TrainConfig, Trainer

SCRIPT = Path(__file__).with_name("train_script.py")


def run(*args, torchrun=False):
    cmd = (
        [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--standalone"]
        if torchrun
        else [sys.executable]
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CI": "1"}
    return subprocess.run(cmd + [str(SCRIPT), *map(str, args)], capture_output=True, text=True, env=env, timeout=300)


def final(out: Path) -> dict[str, torch.Tensor]:
    return load_file(str(out / "final.safetensors"))


@pytest.mark.parametrize("seed", [0, 1])
def test_kill_and_resume_gives_the_same_weights(tmp_path, seed):
    full = run(tmp_path / "full", "--dropout", "0.2")
    assert full.returncode == 0, full.stderr
    kill_at = random.Random(seed).randint(2, 30)  # 8 steps per epoch: usually mid-epoch
    killed = run(tmp_path / "resumed", "--dropout", "0.2", "--kill-at", kill_at)
    assert killed.returncode == -9
    assert not list((tmp_path / "resumed").glob(".*.tmp")), "no half-written file may remain"
    resumed = run(tmp_path / "resumed", "--dropout", "0.2")
    assert resumed.returncode == 0, resumed.stderr
    a, b = final(tmp_path / "full"), final(tmp_path / "resumed")
    for key in a:
        assert torch.equal(a[key], b[key]), key
    history = [json.loads(line) for line in (tmp_path / "resumed" / "metrics.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == [0, 1, 2, 3]


def test_torchrun_two_processes_match_one(tmp_path):
    single = run(tmp_path / "one")
    assert single.returncode == 0, single.stderr
    multi = run(tmp_path / "two", torchrun=True)
    assert multi.returncode == 0, multi.stderr[-3000:]
    a, b = final(tmp_path / "one"), final(tmp_path / "two")
    assert "world size 1" in single.stdout and "world size 2" in multi.stdout
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=1e-9, rtol=1e-7)


def regression(n=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=g)
    return [(x[i], x[i].sum(0, keepdim=True)) for i in range(n)]


def loss_fn(net, batch):
    xb = torch.stack([b[0] for b in batch])
    yb = torch.stack([b[1] for b in batch])
    return ((net(xb) - yb) ** 2).mean(), {"mae": float((net(xb) - yb).abs().mean())}


def test_training_reduces_loss_early_stops_and_restores_best(tmp_path):
    torch.manual_seed(0)
    model = nn.Linear(2, 1)
    data = regression()
    cfg = TrainConfig(epochs=200, batch_size=8, lr=0.05, patience=5, schedule="constant", progress=False)
    result = Trainer(model, loss_fn, cfg, tmp_path, collate=list).fit(data[:30], data[30:])
    assert result.stopped_early and result.epochs < 200
    assert result.best_val < 1e-4
    history = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert len(history) == result.epochs and "val_mae" in history[0]
    best = min(h["val_loss"] for h in history)
    assert best == pytest.approx(result.best_val)
    val = sum(loss_fn(model, [d])[0].item() for d in data[30:]) / 10
    assert val == pytest.approx(result.best_val, rel=1e-5)


def test_non_finite_steps_are_skipped_and_too_many_stop(tmp_path):
    model = nn.Linear(2, 1)
    calls = {"n": 0}

    def sometimes_nan(net, batch):
        calls["n"] += 1
        loss = loss_fn(net, batch)[0]
        return loss * float("nan") if calls["n"] % 2 else loss

    result = Trainer(model, sometimes_nan, TrainConfig(epochs=2, batch_size=10, progress=False)).fit(regression())
    assert result.skipped_steps == 4 and torch.isfinite(model.weight).all()

    def always_nan(net, batch):
        return loss_fn(net, batch)[0] * float("inf")

    model = nn.Linear(2, 1)
    weights = model.weight.detach().clone()
    with pytest.raises(ScisftError, match="non-finite"):
        Trainer(model, always_nan, TrainConfig(epochs=50, batch_size=10, max_bad_steps=5, progress=False)).fit(
            regression()
        )
    assert torch.equal(model.weight, weights)


def test_resume_with_other_settings_or_parameters_is_refused(tmp_path):
    model = nn.Linear(2, 1)
    Trainer(model, loss_fn, TrainConfig(epochs=1, batch_size=8, progress=False), tmp_path, collate=list).fit(
        regression()
    )
    with pytest.raises(CheckpointError, match="batch_size"):
        Trainer(model, loss_fn, TrainConfig(epochs=1, batch_size=4, progress=False), tmp_path).fit(regression())
    other = nn.Sequential(nn.Linear(2, 1))
    with pytest.raises(CheckpointError, match="other trainable parameters"):
        Trainer(other, loss_fn, TrainConfig(epochs=1, batch_size=8, progress=False), tmp_path).fit(regression())


def test_bad_configuration():
    with pytest.raises(ConfigError, match="schedule"):
        TrainConfig(schedule="linear")
    with pytest.raises(ConfigError, match="unknown option"):
        TrainConfig.from_dict({"epochz": 3})
    frozen = nn.Linear(2, 1)
    Plan().apply(frozen, "a")
    with pytest.raises(ConfigError, match="no trainable parameters"):
        Trainer(frozen, loss_fn, TrainConfig())


def test_time_limit_stops_after_the_epoch_it_passes():
    model = nn.Linear(2, 1)
    result = Trainer(model, loss_fn, TrainConfig(epochs=1000, batch_size=4, time_limit_s=0.0, progress=False)).fit(
        regression()
    )
    assert result.epochs == 1 and result.stopped_early


def test_a_device_that_is_not_there_is_refused_before_training():
    with pytest.raises(ConfigError, match="'gpu0' is not a torch device"):
        TrainConfig(device="gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="sees no CUDA GPU"):
            TrainConfig.from_dict({"device": "cuda"})


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_training_on_a_gpu_matches_the_cpu_and_the_model_comes_back():
    data = regression()
    weights = {}
    for device in ("cpu", "cuda"):
        torch.manual_seed(0)
        model = nn.Linear(2, 1).double()
        cfg = TrainConfig(epochs=5, batch_size=8, lr=0.05, ema_decay=0.9, progress=False, device=device)
        Trainer(model, loss_fn, cfg, collate=list).fit([(x.double(), y.double()) for x, y in data])
        assert model.weight.device.type == "cpu"
        weights[device] = model.weight.detach().clone()
    torch.testing.assert_close(weights["cuda"], weights["cpu"], atol=1e-10, rtol=1e-10)
