"""Regression metrics for affinities: RMSE, Pearson, Spearman and the concordance index (CI).

CI (Gonen & Heller; DeepDTA's): over pairs with different true values, the fraction ordered the same way by the
predictions, ties in the prediction counting one half.
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def concordance_index(y: np.ndarray, pred: np.ndarray, chunk: int = 2048) -> float:
    y, pred = np.asarray(y, float), np.asarray(pred, float)
    good = ties = total = 0.0
    for start in range(0, len(y), chunk):
        dy = y[start : start + chunk, None] - y[None, :]
        dp = pred[start : start + chunk, None] - pred[None, :]
        ordered = dy > 0
        total += ordered.sum()
        good += (ordered & (dp > 0)).sum()
        ties += (ordered & (dp == 0)).sum()
    return float((good + 0.5 * ties) / total) if total else float("nan")


def affinity_metrics(y, pred) -> dict[str, float]:
    y, pred = np.asarray(y, float), np.asarray(pred, float)
    return {
        "pairs": int(len(y)),
        "rmse": float(np.sqrt(np.mean((pred - y) ** 2))),
        "pearson": float(stats.pearsonr(y, pred)[0]) if len(y) > 2 and np.std(pred) > 0 else float("nan"),
        "spearman": float(stats.spearmanr(y, pred)[0]) if len(y) > 2 and np.std(pred) > 0 else float("nan"),
        "ci": concordance_index(y, pred),
    }
