"""``scisft potentials ...``: train, evaluate and add elements to interatomic potentials."""

from __future__ import annotations

import argparse
import json

from scisft.potentials.options import STRATEGIES, AddElementOptions

DATA_HELP = (
    "extxyz, rMD17 .npz, maml .json[.xz] or ANI .h5 files; FILE@START:STOP:STEP picks frames (e.g. train.npz@:200)"
)
MODEL_HELP = "model directory, or a shipped model's name: chn-rmd17, chn-xtb, monbta-nbmotaw"
DEVICE_HELP = "where training runs: cpu, cuda, cuda:1 (default: cpu)"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "potentials", help="equivariant interatomic potentials: train, evaluate, add elements"
    )
    commands = parser.add_subparsers(dest="potentials_command", metavar="COMMAND")

    train = commands.add_parser("train", help="train a potential on labelled structures, or fine-tune one (--base)")
    train.add_argument("--data", nargs="+", required=True, help=DATA_HELP)
    train.add_argument("--out", required=True, help="model directory to write")
    train.add_argument("--base", help="fine-tune this model (" + MODEL_HELP + ") instead of training a new one")
    train.add_argument("--validation", nargs="+", help="validation files (default: hold out a random 10%%)")
    train.add_argument("--config", help="YAML with sections model, training, loss, validation_fraction")
    train.add_argument("--epochs", type=int, help="training epochs (default: 100)")
    train.add_argument("--batch-size", type=int, help="structures per step (default: 8)")
    train.add_argument("--lr", type=float, help="peak learning rate (default: 0.02)")
    train.add_argument("--seed", type=int, help="random seed (default: 0)")
    train.add_argument("--device", help=DEVICE_HELP)
    train.set_defaults(func=_train)

    evaluate = commands.add_parser("evaluate", help="errors of a model (and adapters) on labelled files")
    evaluate.add_argument("--model", required=True, help=MODEL_HELP)
    evaluate.add_argument("--adapter", nargs="+", help="element adapter directories, in the order they were made")
    evaluate.add_argument("--data", nargs="+", required=True, help=DATA_HELP)
    evaluate.add_argument("--json", action="store_true", help="print JSON instead of a table")
    evaluate.add_argument("--batch-size", type=int, default=16, help="structures per evaluation batch")
    evaluate.set_defaults(func=_evaluate)

    add = commands.add_parser("add-element", help="teach a trained potential a new chemical element")
    add.add_argument("--base", required=True, help=MODEL_HELP)
    add.add_argument("--adapter", nargs="+", default=[], help="element adapters added before, oldest first")
    add.add_argument("--element", required=True, help="chemical symbol of the new element, e.g. O")
    add.add_argument("--data", nargs="+", required=True, help="structures containing the new element: " + DATA_HELP)
    add.add_argument("--out", required=True, help="adapter directory (gated, lora) or model directory (full, scratch)")
    add.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="gated",
        help="gated: adapters acting only near the new element's atoms (old chemistry bit-identical); lora: shared "
        "adapters; full: every weight; scratch: a new model on old + new data",
    )
    add.add_argument("--ewc", type=float, default=0.0, help="EWC strength for lora/full (Fisher from --replay)")
    add.add_argument(
        "--replay-ratio",
        type=float,
        default=0.5,
        help="old items replayed per new item (lora/full; 0: --replay feeds the EWC Fisher only)",
    )
    add.add_argument("--replay", nargs="+", help="old-chemistry files: replayed in training (lora/full/scratch)")
    add.add_argument("--validation", nargs="+", help="validation files (default: hold out 10%% of --data)")
    add.add_argument("--old-validation", nargs="+", help="old-chemistry files to measure forgetting on")
    add.add_argument("--init-from", help="start the new element's embedding at this element's (default: descriptor)")
    defaults = AddElementOptions()
    add.add_argument("--rank", type=int, default=defaults.rank, help="adapter rank of the node-wise layers")
    add.add_argument(
        "--radial-rank", type=int, default=defaults.radial_rank, help="adapter rank of the radial (edge) layers"
    )
    add.add_argument("--config", help="YAML with sections training and loss")
    add.add_argument("--epochs", type=int, help="training epochs (default: 60)")
    add.add_argument("--seed", type=int, default=0, help="random seed (data split, initialisation, batch order)")
    add.add_argument("--device", help=DEVICE_HELP)
    add.add_argument(
        "--skip-unit-check",
        action="store_true",
        help="train even if the forces or interatomic distances look like other units than eV/A and A",
    )
    add.add_argument("--json", action="store_true", help="print the report as JSON")
    add.set_defaults(func=_add_element)

    parser.set_defaults(func=lambda args: parser.print_help())


def _add_element(args: argparse.Namespace) -> int:
    from scisft.potentials.add_element import add_element
    from scisft.potentials.train import read_options

    extra = read_options(args.config)
    training = dict(extra.get("training", {}))
    training.update({k: v for k, v in {"epochs": args.epochs, "device": args.device}.items() if v is not None})
    options = AddElementOptions(
        strategy=args.strategy,
        rank=args.rank,
        radial_rank=args.radial_rank,
        ewc=args.ewc,
        replay_ratio=args.replay_ratio,
        init_from=args.init_from,
        training=training,
        loss=extra.get("loss", {}),
        check_units=not args.skip_unit_check,
    )
    report = add_element(
        args.base,
        args.element,
        args.data,
        args.out,
        previous=args.adapter,
        validation=args.validation,
        old_validation=args.old_validation,
        replay=args.replay,
        options=options,
        seed=args.seed,
    )
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


def format_report(report: dict) -> str:
    """The add-element report as plain text."""
    rows = {
        f"new {report['element']}: zero-shot": report["zero_shot"]["new"],
        f"new {report['element']}: adapted": report["adapted"]["new"],
    }
    if report["adapted"]["old"]:
        rows["old chemistry: base"] = report["base_metrics"]["old"]
        rows["old chemistry: adapted"] = report["adapted"]["old"]
    lines = [
        f"added {report['element']} with strategy '{report['strategy']}' in {report['wall_time_s']:.0f} s",
        format_metrics({k: v for k, v in rows.items() if v}),
    ]
    t = report["trainable"]
    lines.append(
        f"trainable: {t['trainable']:,} parameters ({100 * t['fraction_of_base']:.2f}% of the base); "
        f"file: {report['file_bytes'] / 1024:.1f} kB ({100 * report['file_fraction_of_base']:.2f}% of the base)"
    )
    if report["training"]["rollbacks"]:
        lines.append(
            f"divergence guard: the validation loss jumped after epoch(s) {report['training']['rollbacks']}; "
            "training went back to the best weights at half the learning rate each time"
        )
    if report["forgetting"]:
        f = report["forgetting"]
        lines.append(
            f"forgetting: bit-identical old predictions: {f['bit_identical']}; largest old energy change "
            f"{f['max_energy_change_mev']:.3g} meV; force MAE change {f['force_mae_change_mev_per_A']:+.2f} meV/A"
        )
    return "\n".join(lines)


def _train(args: argparse.Namespace) -> int:
    from scisft.potentials.train import read_options, train_potential

    summary = train_potential(
        args.data,
        args.out,
        validation=args.validation,
        options=read_options(args.config),
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        device=args.device,
        base=args.base,
    )
    print(
        f"model written to {args.out} ({summary['parameters']:,} parameters, "
        f"{summary['training']['epochs']} epochs, {summary['training']['wall_time_s']:.0f} s)"
    )
    print(format_metrics({"validation": summary["metrics"]["validation"]}))
    return 0


def evaluate_files(model, files, batch_size: int = 16) -> dict[str, dict]:
    """Error metrics per file (see ``scisft.potentials.objective.error_metrics``)."""
    from scisft.potentials.data import load_structures, to_graphs
    from scisft.potentials.objective import error_metrics

    cutoff = model.config.cutoff
    return {str(path): error_metrics(model, to_graphs(load_structures([path]), cutoff), batch_size) for path in files}


def _evaluate(args: argparse.Namespace) -> int:
    from scisft.potentials.store import load

    model = load(args.model, args.adapter)
    results = evaluate_files(model, args.data, args.batch_size)
    print(json.dumps(results, indent=2) if args.json else format_metrics(results))
    return 0


COLUMNS = [
    ("structures", "structures", "{:d}"),
    ("energy_mae_mev_per_atom", "E MAE meV/atom", "{:.2f}"),
    ("energy_mae_mev", "E MAE meV", "{:.1f}"),
    ("force_mae_mev_per_A", "F MAE meV/A", "{:.1f}"),
    ("force_rmse_mev_per_A", "F RMSE meV/A", "{:.1f}"),
    ("stress_mae_gpa", "S MAE GPa", "{:.3f}"),
]


def format_metrics(results: dict[str, dict]) -> str:
    """A plain-text table: one row per data set."""
    width = max(len(name) for name in results)
    lines = [f"{'data':<{width}}  " + "  ".join(f"{title:>14}" for _, title, _ in COLUMNS)]
    for name, metrics in results.items():
        cells = [fmt.format(metrics[key]) if key in metrics else "-" for key, _, fmt in COLUMNS]
        lines.append(f"{name:<{width}}  " + "  ".join(f"{c:>14}" for c in cells))
    return "\n".join(lines)
