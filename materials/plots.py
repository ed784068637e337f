"""Stress-stretch (and flow-stress) curves with the data points, per mode and temperature (matplotlib, PNG)."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from scisft.materials.fitting import predict_table  # noqa: E402
from scisft.materials.free_energy import FreeEnergy  # noqa: E402
from scisft.materials.kinematics import MODE_NAMES  # noqa: E402


def _curve_table(part: pd.DataFrame, points: int = 80) -> pd.DataFrame:
    """A dense table along one measured curve (same material, temperature, mode / rate)."""
    first = part.iloc[0]
    if "mode" in part:
        grid = np.linspace(1.0 if first["mode"] != "SS" else 0.0, part["stretch"].max(), points)
        return pd.DataFrame(
            {
                "material": first["material"],
                "temperature_K": first["temperature_K"],
                "mode": first["mode"],
                "stretch": grid,
                "stretch2": np.nan,
                "stress_MPa": np.nan,
                "stress2_MPa": np.nan,
            }
        )
    grid = np.linspace(max(part["strain"].min(), 1e-3), part["strain"].max(), points)
    return pd.DataFrame(
        {
            "material": first["material"],
            "temperature_K": first["temperature_K"],
            "strain": grid,
            "strain_rate_per_s": first["strain_rate_per_s"],
            "stress_MPa": np.nan,
        }
    )


def plot_curves(
    models: dict,
    table: pd.DataFrame,
    path: str | os.PathLike,
    title: str = "",
    extra_temperatures_k: list[float] = (),
    held_out: pd.Series | None = None,
) -> None:
    """One panel per mode (hyperelastic; BT tests shown as points only) or per temperature (flow); a line per model
    (``models``: label -> FreeEnergy/FlowStress; solid, dashed, dotted ... in that order) and the measured points.
    ``extra_temperatures_k``: also draw the first model's curve at these temperatures in mode panels that have no
    data there (dotted red). ``held_out``: a boolean per row of ``table``; those points are drawn hollow, in a
    shaded region, as data no model was fitted on."""
    held_out = pd.Series(False, index=table.index) if held_out is None else held_out
    hyperelastic = isinstance(next(iter(models.values())), FreeEnergy)
    panel_key = "mode" if hyperelastic else "temperature_K"
    curve_key = "temperature_K" if hyperelastic else "strain_rate_per_s"
    panels = sorted(table[panel_key].unique())
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), squeeze=False)
    styles = ["-", "--", ":", "-."]
    for ax, panel in zip(axes[0], panels):
        part = table[table[panel_key] == panel]
        for color, (value, curve) in zip(
            plt.cm.viridis(np.linspace(0, 0.9, part[curve_key].nunique())), part.groupby(curve_key)
        ):
            x = curve["stretch"] if hyperelastic else curve["strain"]
            label = f"{value - 273.15:.0f} C" if hyperelastic else f"{value:g} /s"
            hidden = held_out.loc[curve.index].to_numpy()
            ax.plot(x[~hidden], curve["stress_MPa"][~hidden], "o", color=color, ms=4, label=f"data {label}")
            if hidden.any():
                ax.axvspan(x[hidden].min(), x[hidden].max(), color="0.92", zorder=0)
                ax.plot(
                    x[hidden],
                    curve["stress_MPa"][hidden],
                    "o",
                    mfc="none",
                    color=color,
                    ms=5,
                    label=f"data {label}, held out",
                )
            if hyperelastic and panel == "BT":
                continue
            dense = _curve_table(curve)
            for style, (name, model) in zip(styles, models.items()):
                pred = predict_table(model, dense)[0]
                ax.plot(
                    dense["stretch"] if hyperelastic else dense["strain"],
                    pred,
                    style,
                    color=color,
                    lw=1.2,
                    label=f"{name}, {label}" if len(models) > 1 else None,
                )
        if hyperelastic and panel != "BT":
            for T in extra_temperatures_k:
                if not np.isclose(part["temperature_K"], T).any():
                    dense = _curve_table(part.assign(temperature_K=T))
                    pred = predict_table(next(iter(models.values())), dense)[0]
                    ax.plot(
                        dense["stretch"],
                        pred,
                        ":",
                        color="tab:red",
                        lw=1.5,
                        label=f"predicted {T - 273.15:.0f} C (no data)",
                    )
        ax.set_title(f"{MODE_NAMES.get(panel, panel)} ({panel})" if hyperelastic else f"{panel - 273.15:.0f} C")
        ax.set_xlabel("stretch" if hyperelastic else "true strain")
        ax.set_ylabel("nominal stress (MPa)" if hyperelastic else "flow stress (MPa)")
        ax.legend(fontsize=6)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
