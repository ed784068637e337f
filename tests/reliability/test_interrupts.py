"""SIGKILL at random points: resuming gives the same result as an uninterrupted run, and no half-written file stays."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from ase.build import molecule
from ase.io import write
from safetensors.torch import load_file

from scisft.potentials import save_potential
from scisft.potentials.readers import labelled
from tests.helpers import SHARED_DATA, shared_data
from tests.potentials.helpers import tiny_model

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "CI": "1"}


def scisft(*args) -> list[str]:
    return [sys.executable, "-m", "scisft.cli", *map(str, args)]


def kill_when(cmd, ready: Path, delay: float, timeout: float = 300) -> int:
    """Start ``cmd``; once ``ready`` exists wait ``delay`` s and SIGKILL it (unless it ended); return its code."""
    process = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    start = time.time()
    while not ready.exists() and process.poll() is None and time.time() - start < timeout:
        time.sleep(0.05)
    time.sleep(delay)
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    return process.wait()


def no_temporaries(folder: Path) -> bool:
    return not [p for p in folder.rglob(".*.tmp")]


@pytest.fixture
def adaptation_inputs(tmp_path):
    save_potential(tiny_model(elements=("H", "C"), dtype=torch.float32), tmp_path / "base")
    rng = np.random.default_rng(0)
    frames = []
    for k, name in enumerate(["CH3OH", "H2O", "CH3CH2OH"] * 4):
        atoms = molecule(name)
        atoms.rattle(0.05, seed=k)
        frames.append(
            labelled(atoms, f"o:{k}", energy=-5.0 * len(atoms) + rng.normal(), forces=rng.normal(size=(len(atoms), 3)))
        )
    write(tmp_path / "o.xyz", frames, format="extxyz")
    (tmp_path / "cfg.yaml").write_text("training: {epochs: 6, checkpoint_every: 1, batch_size: 2, progress: false}\n")
    return tmp_path


@pytest.mark.parametrize("seed", [0, 1])
def test_add_element_killed_and_resumed_equals_uninterrupted(adaptation_inputs, seed):
    tmp = adaptation_inputs
    args = [
        "potentials",
        "add-element",
        "--base",
        tmp / "base",
        "--element",
        "O",
        "--data",
        tmp / "o.xyz",
        "--config",
        tmp / "cfg.yaml",
        "--validation",
        tmp / "o.xyz",
    ]
    assert subprocess.run(scisft(*args, "--out", tmp / "whole"), env=ENV).returncode == 0
    delay = random.Random(seed).uniform(0.0, 1.5)
    code = kill_when(scisft(*args, "--out", tmp / "cut"), tmp / "cut" / "training" / "checkpoint.safetensors", delay)
    assert code in (-9, 0)
    assert no_temporaries(tmp / "cut") or code == -9
    assert subprocess.run(scisft(*args, "--out", tmp / "cut"), env=ENV).returncode == 0
    whole, cut = load_file(tmp / "whole" / "adapter.safetensors"), load_file(tmp / "cut" / "adapter.safetensors")
    assert set(whole) == set(cut)
    for key in whole:
        assert (whole[key] == cut[key]).all(), key
    assert no_temporaries(tmp / "cut")


def test_data_recipe_killed_and_rerun_gives_the_same_files(tmp_path):
    cmd = scisft("data", "make", "chno-xtb", "--quick", "--out", tmp_path / "whole")
    assert subprocess.run(cmd, env=ENV).returncode == 0
    cut = tmp_path / "cut"
    kill_when(scisft("data", "make", "chno-xtb", "--quick", "--out", cut), cut, random.Random(3).uniform(1, 6))
    for path in cut.glob("*.xz"):  # whatever the killed run left is complete, never half-written
        assert path.stat().st_size > 0
    assert subprocess.run(scisft("data", "make", "chno-xtb", "--quick", "--out", cut), env=ENV).returncode == 0
    for path in (tmp_path / "whole").glob("*.xz"):
        assert (cut / path.name).read_bytes() == path.read_bytes(), path.name
    assert no_temporaries(cut)


def test_fetch_killed_and_rerun_verifies(tmp_path):
    shared_data("nbmotaw")
    env = {**ENV, "SCISFT_CACHE_DIR": str(tmp_path / "cache")}
    process = subprocess.Popen(scisft("data", "fetch", "nbmotaw", "--from", SHARED_DATA), env=env)
    time.sleep(random.Random(5).uniform(0.5, 2.5))
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert subprocess.run(scisft("data", "fetch", "nbmotaw", "--from", SHARED_DATA), env=env).returncode == 0
    assert subprocess.run(scisft("data", "verify", "nbmotaw"), env=env).returncode == 0
    assert no_temporaries(tmp_path / "cache")
