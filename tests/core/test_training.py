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


class OneBadEpoch(list):
    """Training items whose targets are shifted by 30 in one epoch: a stand-in for a step that leaves the minimum."""

    def __init__(self, items, bad_epoch):
        super().__init__(items)
        self.bad_epoch, self.epoch = bad_epoch, 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __getitem__(self, i):
        x, y = super().__getitem__(i)
        return (x, y + 30.0) if self.epoch == self.bad_epoch else (x, y)


def fit_linear(train, factor, schedule="constant", epochs=8):
    torch.manual_seed(0)
    model = nn.Linear(2, 1)
    cfg = TrainConfig(epochs=epochs, batch_size=4, lr=0.1, schedule=schedule, rollback_factor=factor, progress=False)
    return model, Trainer(model, loss_fn, cfg, collate=list).fit(train, regression()[30:])


def test_divergence_guard_goes_back_to_the_best_weights_at_half_the_lr():
    data = regression()[:30]
    _, guarded = fit_linear(OneBadEpoch(data, bad_epoch=5), factor=10.0)
    _, unguarded = fit_linear(OneBadEpoch(data, bad_epoch=5), factor=None)
    h, u = guarded.history, unguarded.history
    best = min(range(5), key=lambda e: h[e]["val_loss"])
    assert h[5]["val_loss"] > 10 * h[best]["val_loss"], "the bad epoch must make the loss jump"
    assert guarded.rollbacks == [5] and h[5]["rolled_back_to"] == best and unguarded.rollbacks == []
    assert h[6]["lr"] == pytest.approx(h[5]["lr"] / 2)
    # epoch 6 starts from the best epoch's weights: its loss is near the best, the unguarded run's still far off
    assert h[6]["val_loss"] < 2 * h[best]["val_loss"] < u[6]["val_loss"] / 10


def test_divergence_guard_leaves_a_run_without_jumps_bit_identical():
    data = regression()[:30]
    a, ra = fit_linear(data, factor=10.0, schedule="cosine")
    b, rb = fit_linear(data, factor=None, schedule="cosine")
    assert ra.rollbacks == [] and torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)
    with pytest.raises(ConfigError, match="rollback_factor must be > 1"):
        TrainConfig(rollback_factor=0.5)


class Crash(Exception):
    pass


@pytest.mark.parametrize("crash_at_item", [170, 200])  # 30 items per epoch: before and after epoch 5's rollback
def test_a_run_stopped_around_a_rollback_resumes_to_the_same_weights(tmp_path, crash_at_item):
    items = regression()[:30]

    class CrashingData(OneBadEpoch):
        fetched = 0

        def __getitem__(self, i):
            CrashingData.fetched += 1
            if CrashingData.fetched == crash_at_item:
                raise Crash
            return super().__getitem__(i)

    cfg = TrainConfig(
        epochs=8, batch_size=4, lr=0.1, schedule="constant", ema_decay=0.5, checkpoint_every=3, progress=False
    )
    weights = {}
    for name, data in [("whole", OneBadEpoch(items, 5)), ("resumed", CrashingData(items, 5))]:
        torch.manual_seed(0)
        model = nn.Linear(2, 1)
        if name == "resumed":
            with pytest.raises(Crash):
                Trainer(model, loss_fn, cfg, tmp_path / name, collate=list).fit(data, regression()[30:])
        result = Trainer(model, loss_fn, cfg, tmp_path / name, collate=list).fit(data, regression()[30:])
        assert result.rollbacks == [5]
        weights[name] = (model.weight.detach().clone(), model.bias.detach().clone())
    for a, b in zip(weights["whole"], weights["resumed"]):
        assert torch.equal(a, b)


def test_a_line_per_epoch_and_time_counted_across_a_resume(tmp_path, capsys):
    """Each epoch prints its losses and the time left; a resumed run's time includes the earlier session's."""
    data = regression()
    cfg = TrainConfig(epochs=4, batch_size=8, lr=0.05, schedule="constant")
    calls = {"n": 0}

    def interrupted(net, batch):  # a kill in the second epoch (4 steps and 2 validation batches per epoch)
        calls["n"] += 1
        if calls["n"] == 8:
            raise KeyboardInterrupt
        return loss_fn(net, batch)

    torch.manual_seed(0)
    with pytest.raises(KeyboardInterrupt):
        Trainer(nn.Linear(2, 1), interrupted, cfg, tmp_path).fit(data[:30], data[30:])
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("epoch 1/4  train loss") and "val_mae" in lines[0]
    assert "left" in lines[0]
    history = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    first_session = history[0]["time_s"]
    torch.manual_seed(0)
    result = Trainer(nn.Linear(2, 1), loss_fn, cfg, tmp_path).fit(data[:30], data[30:])
    assert [line.split()[1] for line in capsys.readouterr().err.splitlines()] == ["2/4", "3/4", "4/4"]
    assert result.resumed_after_s == pytest.approx(first_session)
    assert result.wall_time_s > first_session
    history = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert all(b["time_s"] >= a["time_s"] for a, b in zip(history, history[1:]))
    cfg_quiet = TrainConfig(epochs=2, batch_size=8, lr=0.05, progress=False)
    Trainer(nn.Linear(2, 1), loss_fn, cfg_quiet).fit(data[:30], data[30:])
    assert capsys.readouterr().err == ""
