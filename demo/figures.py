"""Figures for the demo report (matplotlib, PNG)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def parity(path: Path, series: dict[str, tuple[np.ndarray, np.ndarray]], xlabel: str, ylabel: str, title: str):
    """Predicted vs reference, one colour per series (label -> (reference, predicted))."""
    fig, ax = plt.subplots(figsize=(4.6, 4.4))
    everything = np.concatenate([np.concatenate(v) for v in series.values()])
    lo, hi = float(np.min(everything)), float(np.max(everything))
    ax.plot([lo, hi], [lo, hi], "k-", lw=0.7)
    for label, (ref, pred) in series.items():
        ax.plot(ref, pred, ".", ms=2.5, alpha=0.6, label=label)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.legend(markerscale=4, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def learning_curve(path: Path, metrics_file: Path, key: str, ylabel: str, title: str, scale: float = 1.0):
    """A validation metric per epoch from a training run's metrics.jsonl."""
    history = [json.loads(line) for line in metrics_file.read_text().splitlines() if line.strip()]
    fig, ax = plt.subplots(figsize=(4.6, 3.4))
    ax.plot([h["epoch"] + 1 for h in history], [h[key] * scale for h in history], "o-", ms=3)
    ax.set(xlabel="epoch", ylabel=ylabel, title=title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
