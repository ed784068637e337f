"""Benchmark (issue 36): torch's thread count on a machine whose cores are busy, and the rule scisft uses.

Workload: the demo's training, a fixed number of steps of adding O to the shipped C/H/N potential (chn-xtb) with
the gated adapter (batch 8 of the project's GFN2-xTB C/H/N/O molecules), timed after two warm-up steps. Each
measurement runs in a fresh process with torch's intra-op threads set to 1, to all cores, or by scisft's rule
(``scisft.threads.choose_threads``, which samples the idle cores when the process starts).

Machine states: idle; one core kept busy by another process (a Python busy loop); every core kept busy. The
interesting number is each setting's time divided by the best setting's in the same state: a rule that is never
far from the best is what a user on a shared machine or a laptop needs.

    OMP_NUM_THREADS unset; python -m benchmarks.threads_under_load [--steps 12] [--repeats 2]

Results: benchmarks/results/threads_under_load.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from benchmarks.common import machine, markdown_table, write_results
from scisft.threads import available_cores

WORKER = r"""
import json, sys, time
import torch
from scisft.threads import choose_threads
setting, steps = sys.argv[1], int(sys.argv[2])
n = choose_threads()[0] if setting == "rule" else int(setting)
torch.set_num_threads(n)
from scisft.demo.parts import CHNO
from scisft.models import shipped
from scisft.potentials import load, read_structures
from scisft.potentials.add_element import AddElementOptions, element_plan, start_element, adapter_name
from scisft.potentials.data import collate, to_graphs
from scisft.potentials.objective import LossWeights, potential_loss
model = load(shipped("chn-xtb"))
start_element(model, "O", adapter_name("O"), None)
element_plan(model, "O", AddElementOptions()).apply(model, adapter_name("O"))
graphs = to_graphs(read_structures(CHNO / "cho_train.extxyz.xz")[: 8 * (steps + 2)], model.config.cutoff)
params = [p for p in model.parameters() if p.requires_grad]
optimizer = torch.optim.Adam(params, lr=1e-3)
def step(k):
    loss, _ = potential_loss(model, collate(graphs[8 * k : 8 * k + 8]), LossWeights())
    optimizer.zero_grad(); loss.backward(); optimizer.step()
step(0); step(1)
start = time.perf_counter()
for k in range(2, steps + 2):
    step(k)
print(json.dumps({"threads": n, "seconds_per_step": (time.perf_counter() - start) / steps}))
"""


def measure(setting: str, steps: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    out = subprocess.run(
        [sys.executable, "-c", WORKER, setting, str(steps)], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def busy(n: int) -> list[subprocess.Popen]:
    """``n`` processes that each keep a core busy."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12, help="timed training steps per measurement")
    parser.add_argument("--repeats", type=int, default=2, help="measurements per setting and state (median kept)")
    args = parser.parse_args()
    cores = available_cores()
    states = {"idle": 0, "one core busy": 1, "all cores busy": cores}
    settings = ["1", str(cores), "rule"]
    results = {}
    for state, n_busy in states.items():
        spinners = busy(n_busy)
        time.sleep(1.0)
        try:
            for setting in settings:
                runs = [measure(setting, args.steps) for _ in range(args.repeats)]
                runs.sort(key=lambda r: r["seconds_per_step"])
                results[f"{state}|{setting}"] = {**runs[len(runs) // 2], "all": runs}
                print(state, setting, results[f"{state}|{setting}"], flush=True)
        finally:
            for p in spinners:
                p.kill()
    rows = []
    for state in states:
        best = min(results[f"{state}|{s}"]["seconds_per_step"] for s in settings)
        for setting in settings:
            r = results[f"{state}|{setting}"]
            name = {"1": "1 thread", str(cores): f"{cores} threads", "rule": "scisft's rule"}[setting]
            chosen = f" (chose {r['threads']})" if setting == "rule" else ""
            rows.append([state, name + chosen, f"{r['seconds_per_step']:.3f}", f"{r['seconds_per_step'] / best:.2f}"])
    info = machine()
    table = markdown_table(["machine state", "threads", "s per training step", "x best in this state"], rows)
    markdown = (
        f"Training steps of the demo's add-O run (chn-xtb + gated adapter, batch 8), median of {args.repeats} "
        f"fresh processes, {args.steps} steps each; {info['cpu']}, {cores} cores; git {info.get('git', '?')}.\n\n"
        + table
    )
    write_results("threads_under_load", {"machine": info, "steps": args.steps, "results": results}, markdown)
    print(markdown)


if __name__ == "__main__":
    main()
