"""Figures for the demo report (matplotlib, PNG)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def parity(
    path: Path,
    series: dict[str, tuple[np.ndarray, np.ndarray]],
    xlabel: str,
    ylabel: str,
    title: str,
    mae_unit: tuple[float, str] = (1.0, ""),
    zoom: float = 1.0,
):
    """Predicted vs reference, one colour per series (label -> (reference, predicted)), each labelled with its MAE
    (times ``mae_unit[0]``, in ``mae_unit[1]``). ``zoom`` < 1 shows the central ``zoom`` fraction of the reference
    values (a few extreme points would otherwise squeeze the rest into a dot); the title says so."""
    fig, ax = plt.subplots(figsize=(4.8, 4.6))
    reference = np.concatenate([ref for ref, _ in series.values()])
    if zoom < 1.0:
        lo, hi = np.quantile(reference, [(1 - zoom) / 2, (1 + zoom) / 2])
        pad = 0.1 * (hi - lo)
        lo, hi = lo - pad, hi + pad
        title += f"\n(central {100 * zoom:.0f}% of reference values shown)"
    else:
        everything = np.concatenate([np.concatenate(v) for v in series.values()])
        lo, hi = float(np.min(everything)), float(np.max(everything))
    ax.plot([lo, hi], [lo, hi], "k-", lw=0.7)
    scale, unit = mae_unit
    for label, (ref, pred) in series.items():
        mae = float(np.mean(np.abs(pred - ref))) * scale
        ax.plot(ref, pred, ".", ms=2.5, alpha=0.5, label=f"{label}: MAE {mae:.3g} {unit}".rstrip())
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title, xlim=(lo, hi), ylim=(lo, hi))
    ax.title.set_fontsize(9)
    ax.legend(markerscale=4, fontsize=8, loc="upper left")
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
