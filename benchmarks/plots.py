"""Plots for the benchmark tables (matplotlib, PNG, no screen needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def learning_curves(payload: dict, path: Path) -> None:
    """New-element test force MAE (``test_new``) and old-chemistry force MAE change vs the number of new frames, one
    line per strategy (mean and spread over seeds)."""
    fig, (ax_new, ax_old) = plt.subplots(1, 2, figsize=(10, 4))
    # gated first, then by name: the same colours in every run (a set iterates in a different order each process)
    strategies = sorted({r["strategy"] for r in payload["results"]}, key=lambda s: (s != "gated", s))
    for strategy in strategies:
        runs = [r for r in payload["results"] if r["strategy"] == strategy]
        sizes = sorted({r["n"] for r in runs})
        mean = [np.mean([r["test_new"]["force_mae_mev_per_A"] for r in runs if r["n"] == n]) for n in sizes]
        spread = [np.std([r["test_new"]["force_mae_mev_per_A"] for r in runs if r["n"] == n]) for n in sizes]
        forget = [
            np.mean([r["report"]["forgetting"]["force_mae_change_mev_per_A"] for r in runs if r["n"] == n])
            for n in sizes
        ]
        ax_new.errorbar(sizes, mean, yerr=spread, marker="o", capsize=3, label=strategy)
        ax_old.plot(sizes, forget, marker="o", label=strategy)
    sizes_run = sorted({r["n"] for r in payload["results"]})
    for ax in (ax_new, ax_old):
        ax.set_xscale("log")
        ax.set_xticks(sizes_run, [str(n) for n in sizes_run])  # the sizes run, not log-scale minor labels that overlap
        ax.minorticks_off()
        ax.set_xlabel("new-element training frames")
        ax.legend()
    ax_new.set_ylabel("new-element test force MAE (meV/Å)")
    ax_old.set_ylabel("old-chemistry force MAE change (meV/Å)")
    ax_old.axhline(0, color="k", lw=0.5)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
