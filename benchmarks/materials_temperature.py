"""Benchmark (issue 6): adapt material laws to a new temperature with a few tests, against baselines.

Rubber (Treloar 1944, ../shared/data/rubber/rubber_multiT.csv): fit at 20 C on uniaxial, equibiaxial and pure
shear; adapt at 50 C with uniaxial points only. The 50 C equibiaxial and pure-shear curves are kept back for an
independent check, so what is measured here is the uniaxial curve's large-stretch end: adapt with the 50 C points
at stretch <= 4 and score the points above (extrapolation), and score all 50 C points. Predictions of the kept-back
50 C curves (after adapting on all 50 C uniaxial points) are written to benchmarks/results/ for later scoring with
``scisft materials evaluate``. Baselines: the 20 C law unchanged, entropic scaling (stress x T/T0), a fresh fit on
the 50 C points alone, full fine-tuning (with the 20 C data replayed, like the adapter).

Steel (hot compression, ../shared/data/steel_hot_compression): fit at 1050-1150 C (all six strain rates); adapt to
1200 C with one strain rate (each of the six in turn); score all six rates at 1200 C. Baselines: the law unchanged
(its Arrhenius term extrapolates), Johnson-Cook and Hansel-Spittel fitted on 1050-1150 C (and refitted with the
one 1200 C rate added), a fresh fit on the one rate, full fine-tuning. Strains 0.02-0.7 every 0.01.

    python -m benchmarks.materials_temperature [--quick]

Seeds 0, 1, 2 (--quick: seed 0, fewer steps). Results: benchmarks/results/materials_temperature.{json,md,png}.
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np
import pandas as pd
import torch

from benchmarks.common import RESULTS, SHARED, machine, markdown_table, require, write_results
from scisft.materials.fitting import adapt, evaluate, fit_flow, fit_law, predict_table, score
from scisft.materials.flow import HanselSpittel, JohnsonCook
from scisft.materials.plots import plot_curves
from scisft.materials.tables import from_cann_rubber, from_gleeble


def rubber(seeds, fit_epochs, adapt_epochs) -> dict:
    table, _ = from_cann_rubber(require(SHARED / "rubber" / "rubber_multiT.csv"))
    t20 = table[table.temperature_K < 300].reset_index(drop=True)
    t50 = table[table.temperature_K > 300].reset_index(drop=True)
    seen = t50[t50.stretch <= 4.0].reset_index(drop=True)
    held = t50[t50.stretch > 4.0].reset_index(drop=True)
    ratio = 323.15 / 293.15
    rows: dict[str, list] = {}

    def record(name, model_or_pred, trainable, old=None):
        def s(frame):
            if isinstance(model_or_pred, torch.nn.Module):
                pred = predict_table(model_or_pred, frame)[0]
            else:
                pred = model_or_pred(frame)
            return score(frame, pred, ["temperature_K", "mode"])[0]

        rows.setdefault(name, []).append(
            {"held_out": s(held), "all_50C": s(t50), "trainable": trainable, "old_20C": old}
        )

    for seed in seeds:
        base = fit_law(t20, epochs=fit_epochs, seed=seed)
        n_base = sum(p.numel() for p in base.parameters())
        base_20 = evaluate(base, t20)
        record("20 C law unchanged", base, 0, base_20)
        record(
            "entropic scaling (x T/T0)",
            lambda f, b=base: predict_table(b, f.assign(temperature_K=293.15))[0] * ratio,
            0,
            base_20,
        )
        fresh = fit_law(seen, epochs=fit_epochs, seed=seed)
        record("fresh fit on 50 C points", fresh, n_base)
        full = copy.deepcopy(base)
        report = adapt(full, seen, "T323K", replay=t20, method="full", epochs=adapt_epochs, seed=seed)
        record("full fine-tuning (+replay)", full, report["trainable"], evaluate(full, t20))
        adapted = copy.deepcopy(base)
        report = adapt(adapted, seen, "T323K", replay=t20, method="modulation", epochs=adapt_epochs, seed=seed)
        record("modulation adapter (+replay)", adapted, report["trainable"], evaluate(adapted, t20))
    # predictions for the kept-back curves, from an adapter trained on every 50 C uniaxial point
    final = fit_law(t20, epochs=fit_epochs, seed=seeds[0])
    adapt(final, t50, "T323K", replay=t20, epochs=adapt_epochs, seed=seeds[0])
    grid = pd.concat(
        [
            pd.DataFrame(
                {
                    "material": "Treloar1944_NR",
                    "temperature_K": 323.15,
                    "mode": mode,
                    "stretch": np.linspace(1.0, top, 40),
                    "stretch2": np.nan,
                    "stress_MPa": np.nan,
                    "stress2_MPa": np.nan,
                }
            )
            for mode, top in (("ET", 4.5), ("PS", 5.0))
        ]
    )
    grid["predicted_stress_MPa"] = predict_table(final, grid.reset_index(drop=True))[0]
    RESULTS.mkdir(parents=True, exist_ok=True)
    grid.to_csv(RESULTS / "treloar_50C_predicted_ET_PS.csv", index=False)
    curves = pd.concat([t20, t50], ignore_index=True)
    plot_curves(
        {"adapted": final},
        curves,
        RESULTS / "materials_rubber.png",
        title="Treloar rubber: fit at 20 C (all modes), adapted at 50 C with uniaxial points only",
        extra_temperatures_k=[323.15],
    )
    return {"rows": rows, "points": {"seen": len(seen), "held_out": len(held), "all_50C": len(t50)}}


def steel(seeds, fit_epochs, adapt_epochs) -> dict:
    table = from_gleeble(require(SHARED / "steel_hot_compression" / "flow_curves_1050-1200C.csv"))
    table = table[(table.strain >= 0.02) & ((table.strain * 1000).round() % 10 == 0)].reset_index(drop=True)
    base_t = table[table.temperature_K < 1450].reset_index(drop=True)
    new_t = table[table.temperature_K > 1450].reset_index(drop=True)
    rows: dict[str, list] = {}

    def record(name, pred, trainable, rate):
        s = score(new_t, pred, ["temperature_K"])[0]
        rows.setdefault(name, []).append({**s, "trainable": trainable, "adapt_rate": rate})

    jc, hs = JohnsonCook().fit(base_t), HanselSpittel().fit(base_t)
    for seed in seeds:
        base = fit_flow(base_t, epochs=fit_epochs, seed=seed)
        n_base = sum(p.numel() for p in base.parameters())
        for rate in sorted(new_t.strain_rate_per_s.unique()):
            one = new_t[new_t.strain_rate_per_s == rate].reset_index(drop=True)
            record("law unchanged (Arrhenius extrapolation)", predict_table(base, new_t)[0], 0, rate)
            if seed == seeds[0]:
                record("Johnson-Cook (1050-1150 C)", jc.predict(new_t), 5, rate)
                record("Hansel-Spittel (1050-1150 C)", hs.predict(new_t), 9, rate)
                both = pd.concat([base_t, one], ignore_index=True)
                record("Johnson-Cook refit (+ the 1200 C rate)", JohnsonCook().fit(both).predict(new_t), 5, rate)
                record("Hansel-Spittel refit (+ the 1200 C rate)", HanselSpittel().fit(both).predict(new_t), 9, rate)
            fresh = fit_flow(one, epochs=fit_epochs, seed=seed)
            record("fresh fit on the one rate", predict_table(fresh, new_t)[0], n_base, rate)
            full = copy.deepcopy(base)
            report = adapt(full, one, "T1473K", replay=base_t, method="full", epochs=adapt_epochs, lr=1e-2, seed=seed)
            record("full fine-tuning (+replay)", predict_table(full, new_t)[0], report["trainable"], rate)
            adapted = copy.deepcopy(base)
            report = adapt(adapted, one, "T1473K", replay=base_t, epochs=adapt_epochs, lr=1e-2, seed=seed)
            record("modulation adapter (+replay)", predict_table(adapted, new_t)[0], report["trainable"], rate)
            if seed == seeds[0] and rate == 0.1:
                plot_curves(
                    {"adapted": adapted},
                    pd.concat([base_t, new_t], ignore_index=True),
                    RESULTS / "materials_steel.png",
                    title="Steel flow curves: fit at 1050-1150 C, adapted to 1200 C with the 0.1/s curve",
                )
    return {"rows": rows, "base_parameters": n_base}


def summarise(result: dict) -> str:
    lines = ["Rubber, Treloar 50 C uniaxial (adapted/fitted on the points with stretch <= 4):", ""]
    body = []
    for name, runs in result["rubber"]["rows"].items():
        held = np.array([r["held_out"]["relative_error_pct"] for r in runs])
        whole = np.array([r["all_50C"]["r2"] for r in runs])
        old = [r["old_20C"] for r in runs if r["old_20C"]]
        old_r2 = f"{np.mean([min(m['r2'] for m in o) for o in old]):.4f}" if old else "-"
        body.append(
            [name, f"{held.mean():.1f} ± {held.std():.1f}", f"{whole.mean():.4f}", old_r2, runs[0]["trainable"]]
        )
    lines.append(
        markdown_table(
            [
                "method",
                "rel. error, held-out stretch > 4 (%)",
                "R² all 50 C points",
                "worst 20 C R² after",
                "trainable parameters",
            ],
            body,
        )
    )
    lines += ["", "Steel, 1200 C, all six strain rates (adapted with one rate, each rate in turn):", ""]
    body = []
    for name, runs in result["steel"]["rows"].items():
        err = np.array([r["relative_error_pct"] for r in runs])
        r2 = np.array([r["r2"] for r in runs])
        body.append([name, f"{err.mean():.2f} ± {err.std():.2f}", f"{r2.mean():.4f}", runs[0]["trainable"]])
    lines.append(markdown_table(["method", "rel. error (%)", "R²", "trainable parameters"], body))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    seeds, fit_epochs, adapt_epochs = ([0], 300, 200) if args.quick else ([0, 1, 2], 1500, 1000)
    start = time.perf_counter()
    result = {"rubber": rubber(seeds, fit_epochs, adapt_epochs), "steel": steel(seeds, fit_epochs, adapt_epochs)}
    payload = {"machine": machine(), "seeds": seeds, "result": result, "wall_time_s": time.perf_counter() - start}
    md = summarise(result) + f"\n\nSeeds {seeds}; machine: {payload['machine']}"
    write_results("materials_temperature" + ("_quick" if args.quick else ""), payload, md)
    print(md)


if __name__ == "__main__":
    main()
