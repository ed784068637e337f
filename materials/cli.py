"""``scisft materials ...``: fit, adapt, predict, evaluate and plot material laws; convert published data."""

from __future__ import annotations

import json
from pathlib import Path

from scisft.errors import DataError

SOURCES = ("cann-rubber", "steinmann", "kawabata", "gleeble")
TABLE_HELP = "tidy CSV tables: tests (mode, stretch, stress ...) or flow curves (strain, strain_rate_per_s ...)"


def read_any(paths):
    """Test tables (columns mode, stretch ...) or flow tables (strain, strain_rate_per_s ...), concatenated."""
    import pandas as pd

    from scisft.materials.tables import read_flow, read_tests

    parts = []
    for path in paths:
        head = pd.read_csv(path, nrows=1, skipinitialspace=True) if Path(path).is_file() else None
        if head is None:
            raise DataError("file not found", file=path)
        parts.append(read_flow(path) if "strain_rate_per_s" in head.columns else read_tests(path))
    kinds = {"flow" if "strain" in p else "tests" for p in parts}
    if len(kinds) > 1:
        raise DataError("mixing test tables and flow-curve tables", file=paths[0], fix="give one kind of table")
    return pd.concat(parts, ignore_index=True)


def register(subparsers) -> None:
    parser = subparsers.add_parser("materials", help="material laws: fit, adapt to a new temperature, evaluate")
    commands = parser.add_subparsers(dest="materials_command", metavar="COMMAND")

    convert = commands.add_parser("convert", help="turn a published data file into a tidy table")
    convert.add_argument("--source", choices=SOURCES, required=True, help="which published set the file comes from")
    convert.add_argument("--input", required=True, help="file (steinmann: the folder with the three CSVs)")
    convert.add_argument("--out", required=True, help="tidy CSV to write")
    convert.add_argument("--temperature-c", type=float, help="test temperature for sources that do not state it")
    convert.set_defaults(func=_convert)

    fit = commands.add_parser("fit", help="fit a free energy (test tables) or a flow-stress law (flow tables)")
    fit.add_argument("--data", nargs="+", required=True, help=TABLE_HELP)
    fit.add_argument("--out", required=True, help="law directory to write")
    fit.add_argument(
        "--t-range-c",
        nargs=2,
        type=float,
        metavar=("LOW", "HIGH"),
        help="temperatures the law must cover, in C (default: -50..150 for rubber, 1000..1300 flow)",
    )
    fit.add_argument("--epochs", type=int, default=1500, help="Adam epochs before the L-BFGS polish")
    fit.add_argument("--seed", type=int, default=0, help="random seed")
    fit.set_defaults(func=_fit)

    adapt_cmd = commands.add_parser("adapt", help="adapt a fitted law to tests at a new temperature")
    adapt_cmd.add_argument("--base", required=True, help="law directory written by `scisft materials fit`")
    adapt_cmd.add_argument("--data", nargs="+", required=True, help="tests at the new temperature: " + TABLE_HELP)
    adapt_cmd.add_argument("--out", required=True, help="adapter directory (modulation) or law directory (full)")
    adapt_cmd.add_argument(
        "--method",
        choices=("modulation", "full"),
        default="modulation",
        help="modulation: train only the temperature subnetwork; full: every weight",
    )
    adapt_cmd.add_argument("--no-replay", action="store_true", help="do not replay the base's training data")
    adapt_cmd.add_argument("--epochs", type=int, default=1000, help="Adam epochs before the L-BFGS polish")
    adapt_cmd.add_argument("--seed", type=int, default=0, help="random seed")
    adapt_cmd.set_defaults(func=_adapt)

    for name, helptext, func in (
        ("predict", "predict the stresses of a table's rows", _predict),
        ("evaluate", "score a law on any tidy table", _evaluate),
        ("plot", "stress curves with the data points (PNG)", _plot),
    ):
        cmd = commands.add_parser(name, help=helptext)
        cmd.add_argument("--model", required=True, help="law directory written by `scisft materials fit`")
        cmd.add_argument("--adapter", help="temperature adapter directory")
        cmd.add_argument("--data", nargs="+", required=True, help=TABLE_HELP)
        if name != "evaluate":
            cmd.add_argument("--out", required=True, help="CSV (predict) or PNG (plot)")
        else:
            cmd.add_argument("--json", action="store_true", help="print JSON instead of a table")
        cmd.set_defaults(func=func)
    parser.set_defaults(func=lambda args: parser.print_help())


def _convert(args) -> int:
    from scisft.files import atomic_path
    from scisft.materials.tables import from_cann_rubber, from_gleeble, from_kawabata, from_steinmann

    if args.source == "cann-rubber":
        table, skipped = from_cann_rubber(args.input)
        if skipped:
            print(f"skipped {skipped} rows without a stated temperature (Mooney 1940, Blatz & Ko 1962)")
    elif args.source == "steinmann":
        table = from_steinmann(args.input)
    elif args.source == "kawabata":
        if args.temperature_c is None:
            raise DataError(
                "Kawabata et al. (1981) state no test temperature",
                field="temperature",
                fix="pass --temperature-c (room temperature, e.g. 25)",
            )
        table = from_kawabata(args.input, args.temperature_c)
    else:
        table = from_gleeble(args.input)
    with atomic_path(args.out) as tmp:
        table.to_csv(tmp, index=False)
    print(f"wrote {len(table)} rows to {args.out}")
    return 0


def _fit(args) -> int:
    from scisft.materials.fitting import evaluate, fit_flow, fit_law
    from scisft.materials.flow import FlowConfig
    from scisft.materials.free_energy import LawConfig
    from scisft.materials.store import save_law

    table = read_any(args.data)
    flow = "strain" in table
    t_range = tuple(t + 273.15 for t in args.t_range_c) if args.t_range_c else None
    if flow:
        model = fit_flow(table, FlowConfig(**({"t_range_k": t_range} if t_range else {})), args.epochs, seed=args.seed)
    else:
        model = fit_law(table, LawConfig(**({"t_range_k": t_range} if t_range else {})), args.epochs, seed=args.seed)
    scores = evaluate(model, table)
    save_law(
        model,
        args.out,
        table,
        {
            "data": [str(p) for p in args.data],
            "scores": scores,
            "parameters": sum(p.numel() for p in model.parameters()),
        },
    )
    print(f"law written to {args.out}")
    print(format_scores(scores))
    return 0


def _adapt(args) -> int:
    from scisft.files import write_json
    from scisft.materials.fitting import adapt, evaluate
    from scisft.materials.store import load_model, read_law_config, save_law, training_table

    model = load_model(args.base)
    base_kind, _, _ = read_law_config(args.base)
    table = read_any(args.data)
    if ("strain" in table) != (base_kind == "flow"):
        raise DataError(
            "these tables do not fit the base law's kind", file=args.data[0], fix=f"the base is a {base_kind} law"
        )
    replay = None if args.no_replay else training_table(args.base)
    name = f"T{int(round(table['temperature_K'].iloc[0]))}K"
    before_old = evaluate(model, replay) if replay is not None else None
    report = adapt(model, table, name, replay=replay, method=args.method, epochs=args.epochs, seed=args.seed)
    summary = {
        "base": args.base,
        "method": args.method,
        "adapter": name,
        "trainable": report,
        "new": evaluate(model, table),
        "old_before": before_old,
        "old_after": evaluate(model, replay) if replay is not None else None,
    }
    out = Path(args.out)
    if args.method == "modulation":
        from scisft.checkpoint import save_adapter

        save_adapter(
            model, name, out, metrics={"new": summary["new"]}, extra={"kind": "temperature", "base": args.base}
        )
    else:
        save_law(model, out, table, {"adapted_from": args.base, "method": "full"})
    write_json(out / "report.json", summary)
    print(
        f"adapted ({args.method}, {report['trainable']} trainable parameters, "
        f"{100 * report['fraction']:.1f}% of the law) -> {out}"
    )
    print(format_scores(summary["new"]))
    return 0


def _load(args):
    from scisft.materials.store import load_model

    return load_model(args.model, args.adapter)


def _predict(args) -> int:
    from scisft.files import atomic_path
    from scisft.materials.fitting import predict_table
    from scisft.materials.free_energy import FreeEnergy

    model, table = _load(args), read_any(args.data)
    p1, p2 = predict_table(model, table)
    out = table.copy()
    out["predicted_stress_MPa"] = p1
    if p2 is not None and isinstance(model, FreeEnergy):
        out["predicted_stress2_MPa"] = p2
    with atomic_path(args.out) as tmp:
        out.to_csv(tmp, index=False)
    print(f"wrote {len(out)} predictions to {args.out}")
    return 0


def _evaluate(args) -> int:
    from scisft.materials.fitting import evaluate

    scores = evaluate(_load(args), read_any(args.data))
    print(json.dumps(scores, indent=2) if args.json else format_scores(scores))
    return 0


def _plot(args) -> int:
    from scisft.materials.plots import plot_curves

    plot_curves({"law": _load(args)}, read_any(args.data), args.out)
    print(f"plot written to {args.out}")
    return 0


def format_scores(scores: list[dict]) -> str:
    """A plain-text table of ``evaluate``'s scores (temperatures shown in C)."""
    keys = [k for k in scores[0] if k not in ("points", "r2", "relative_error_pct", "rmse_mpa")]
    titles = ["temperature_C" if k == "temperature_K" else k for k in keys]
    lines = ["  ".join(f"{t:>18}" for t in titles) + f"  {'points':>6}  {'R2':>7}  {'rel.err %':>9}  {'RMSE MPa':>9}"]
    for row in scores:
        cells = [f"{row[k] - 273.15:>18.1f}" if k == "temperature_K" else f"{row[k]!s:>18}" for k in keys]
        lines.append(
            "  ".join(cells) + f"  {row['points']:>6}  {row['r2']:>7.4f}  {row['relative_error_pct']:>9.2f}"
            f"  {row['rmse_mpa']:>9.4f}"
        )
    return "\n".join(lines)
