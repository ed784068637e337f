"""Benchmark (issue 4): wall time of adding O with 200 frames to a production-size potential on 2 CPU threads.

The issue's target: "adding an element with 200 frames takes minutes, not hours, on 2 CPU cores with the
production-size model". Base: the production-size architecture of ``benchmarks.rmd17_add_oxygen`` (MODEL: 64
channels, 3 layers, l_max 2, elements H, C, N), with its random initial weights: the cost of training does not depend
on the weights, and training a production-size base takes hours. New data: the N = 200 set of the rMD17 benchmark
(frames 0-99 of the ethanol and malonaldehyde train splits), validation frames 900-949 of each, and the C/H/N
forgetting check on 250 test frames of each C/H/N molecule, as a user of ``scisft potentials add-element`` would
run it. Strategy ``gated`` with the library's defaults (60 epochs, batch 8); ``patience`` is set to the epoch count
so that early stopping cannot shorten the run.

    python -m benchmarks.add_element_time [--threads 2] [--epochs 60]

Results: benchmarks/results/add_element_time.{json,md}.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from benchmarks import rmd17_add_oxygen as add_oxygen
from benchmarks.common import machine, markdown_table, write_results
from scisft.potentials import Potential, PotentialConfig, save_potential
from scisft.potentials.add_element import AddElementOptions, add_element


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--epochs", type=int, default=60)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    files = add_oxygen.prepare([200], base_frames=500)
    model = Potential(PotentialConfig(elements=["H", "C", "N"], **add_oxygen.MODEL))
    with tempfile.TemporaryDirectory() as tmp:
        base = save_potential(model, Path(tmp) / "base")
        start = time.perf_counter()
        report = add_element(
            base,
            "O",
            [files["new_200"]],
            Path(tmp) / "adapter",
            validation=[files["new_val"]],
            old_validation=[files["old_test"]],
            options=AddElementOptions(training={"epochs": args.epochs, "patience": args.epochs, "progress": False}),
            seed=0,
        )
        wall = time.perf_counter() - start
    payload = {
        "machine": machine(),
        "model": add_oxygen.MODEL,
        "base_parameters": sum(p.numel() for p in model.parameters()),
        "epochs": report["training"]["epochs"],
        "wall_time_s": wall,
        "trainable": report["trainable"],
        "file_fraction_of_base": report["file_fraction_of_base"],
    }
    table = markdown_table(
        ["model", "new frames", "epochs", "threads", "wall time min", "trainable", "adapter file / base"],
        [
            [
                f"{add_oxygen.MODEL['channels']} channels, {payload['base_parameters']} parameters",
                200,
                payload["epochs"],
                args.threads,
                f"{wall / 60:.1f}",
                f"{100 * report['trainable']['fraction_of_base']:.1f}%",
                f"{100 * report['file_fraction_of_base']:.1f}%",
            ]
        ],
    )
    print(table)
    write_results("add_element_time", payload, f"{table}\n\nMachine: {payload['machine']}")


if __name__ == "__main__":
    main()
