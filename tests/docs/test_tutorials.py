"""Each tutorial in docs/tutorials runs end to end, as written, on small slices of the shared data.

The bash blocks of a tutorial are run in order in one shell, in an empty folder, with ``DATA`` pointing at the shared
data and the installed ``scisft`` on the PATH. Only sizes change: every ``--epochs N`` becomes ``--epochs 1`` and
frame selections pick a few frames, plus the per-tutorial substitutions in ``SMALLER`` (each must match, so a
tutorial that changes is not silently run at full size)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, SHARED_DATA

TUTORIALS = ROOT / "docs" / "tutorials"
EVERYWHERE = [(r"--epochs \d+", "--epochs 1"), (r"@:\d+", "@:6"), (r"@::\d+", "@::250")]
SMALLER = {
    "bio": [("species == 'human'", "species == 'human' and p_affinity > 9.5")],
    "materials": [('"strain_rate_per_s == 0.1"', '"strain_rate_per_s == 0.1 and strain < 0.05"')],
    "potentials": [("run(20)", "run(2)")],
}
EXPECTED = {
    "potentials": ["add-O/adapter.safetensors"],
    "materials": ["law50/adapter.safetensors", "rubber.png", "steel_1150C/adapter.safetensors"],
    "bio": ["to-mouse/adapter.safetensors", "orthologs.csv"],
}


def script(name: str) -> str:
    text = (TUTORIALS / f"{name}.md").read_text(encoding="utf-8")
    body = "\n".join(re.findall(r"```bash\n(.*?)```", text, re.S))
    for pattern, small in EVERYWHERE:
        body = re.sub(pattern, small, body)
    for old, new in SMALLER[name]:
        assert old in body, f"docs/tutorials/{name}.md no longer contains {old!r}; update SMALLER"
        body = body.replace(old, new)
    return "set -euo pipefail\n" + body


@pytest.mark.parametrize("name", sorted(SMALLER))
def test_tutorial_runs_end_to_end(name, tmp_path):
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA}; set SCISFT_SHARED_DATA to the shared data folder")
    env = {**os.environ, "DATA": str(SHARED_DATA), "OMP_NUM_THREADS": "1"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    done = subprocess.run(
        ["bash", "-c", script(name)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for path in EXPECTED[name]:
        assert (tmp_path / path).is_file(), path


def test_every_tutorial_is_tested():
    assert sorted(p.stem for p in TUTORIALS.glob("*.md")) == sorted(SMALLER)
