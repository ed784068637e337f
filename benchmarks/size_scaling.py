"""Benchmark (issue 8): time and peak memory of one energy + forces call against system size, 9 to 10^5 atoms,
with the layers' messages in edge blocks (``scisft.potentials.blocks``; the CPU default, 2048 edges per block) and
without.

Model: the production-size potential (``rmd17_add_oxygen.MODEL``: 64 channels, l_max 2, 3 layers, 5 A cutoff; 362k
parameters), untrained, float32 (time and memory do not depend on the weights). Systems: periodic boxes of n^3
ethanol molecules (``speed_vs_mace.box_file``: rMD17 ethanol test frame 0 on a 4.5 A grid, about 52 neighbours
per atom). Each measurement runs in a fresh process through the ASE calculator: one warm-up call, then the median of
``--repeats`` calls (atoms moved by 1e-3 A in between), and the process's peak resident memory. Threads: as set by
OMP_NUM_THREADS (the results name it).

    OMP_NUM_THREADS=1 python -m benchmarks.size_scaling [--molecules-per-side 1 2 3 5 8 11 16 22] [--repeats 3]
        [--unblocked-up-to 8]

Results: benchmarks/results/size_scaling_cpu.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from benchmarks.common import ROOT, SHARED, machine, markdown_table, require, write_results
from benchmarks.rmd17_add_oxygen import MODEL
from benchmarks.speed_vs_mace import box_file
from scisft.potentials import read_structures

WORK = ROOT / "benchmarks" / "work" / "size_scaling"

MEASURE = """
import json, resource, sys, time, numpy as np, torch
from ase.io import read
from scisft.potentials import Potential, PotentialConfig, ScisftCalculator
path, out, blocked, repeats, model_options = sys.argv[1], sys.argv[2], sys.argv[3] == '1', int(sys.argv[4]), sys.argv[5]
torch.manual_seed(0)
model = Potential(PotentialConfig(elements=['H', 'C', 'O'], **json.loads(model_options)))
if not blocked:
    model.max_block_edges = 0
atoms = read(path)
atoms.calc = ScisftCalculator(model, dtype='float32')
atoms.get_forces()
rng, times = np.random.default_rng(0), []
for _ in range(repeats):
    atoms.positions = atoms.positions + rng.normal(0, 1e-3, atoms.positions.shape)
    t = time.perf_counter(); atoms.get_forces(); times.append(time.perf_counter() - t)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
json.dump({'seconds': float(np.median(times)), 'peak_mb': peak}, open(out, 'w'))
"""


def measure(box, per_side: int, blocked: bool, repeats: int) -> dict:
    """One measurement in a fresh process (cached in WORK): {'seconds', 'peak_mb'} or {'failed': why}."""
    threads = os.environ.get("OMP_NUM_THREADS", "all")
    out = WORK / f"box{per_side}_{'blocked' if blocked else 'unblocked'}_{repeats}_{threads}threads.json"
    if not out.exists():
        command = [sys.executable, "-c", MEASURE, str(box), str(out), "1" if blocked else "0", str(repeats)]
        result = subprocess.run([*command, json.dumps(MODEL)], capture_output=True, text=True)
        if result.returncode != 0:
            lines = result.stderr.strip().splitlines()
            return {"failed": lines[-1] if lines else f"exit status {result.returncode}"}
    return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--molecules-per-side", type=int, nargs="+", default=[1, 2, 3, 5, 8, 11, 16, 22])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--unblocked-up-to", type=int, default=8, help="largest n also run without blocks")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    molecule = read_structures(require(SHARED / "rmd17" / "rmd17_ethanol_test_01.npz"))[0]
    rows = []
    for n in args.molecules_per_side:
        box = box_file(molecule, n)
        repeats = args.repeats if n <= 11 else 1  # a 10^5-atom call takes minutes
        row = {"atoms": 9 * n**3, "blocked": measure(box, n, True, repeats)}
        if n <= args.unblocked_up_to:
            row["unblocked"] = measure(box, n, False, repeats)
        rows.append(row)
        print(row, flush=True)
    payload = {"machine": machine(), "threads": os.environ.get("OMP_NUM_THREADS", "all"), "model": MODEL, "rows": rows}
    write_results("size_scaling_cpu", payload, summarise(payload))
    print(summarise(payload))


def _cells(result: dict | None, atoms: int) -> list[str]:
    if result is None:
        return ["-", "-", "-"]
    if "failed" in result:
        return [result["failed"], "-", "-"]
    return [f"{1e3 * result['seconds'] / atoms:.2f}", f"{atoms / result['seconds']:,.0f}", f"{result['peak_mb']:,.0f}"]


def summarise(payload: dict) -> str:
    rows = [
        [f"{r['atoms']:,}", *_cells(r["blocked"], r["atoms"]), *_cells(r.get("unblocked"), r["atoms"])]
        for r in payload["rows"]
    ]
    table = markdown_table(
        [
            "atoms",
            "blocked ms/atom",
            "blocked atom-steps/s",
            "blocked peak MB",
            "unblocked ms/atom",
            "unblocked atom-steps/s",
            "unblocked peak MB",
        ],
        rows,
    )
    return (
        f"Energy + forces, periodic ethanol boxes, production-size model (float32, {payload['threads']} thread(s)):"
        f"\n\n{table}\n\nMachine: {payload['machine']}"
    )


if __name__ == "__main__":
    main()
