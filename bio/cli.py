"""``scisft bio ...``: affinity tables, orthologs, pretraining, transfer across species, prediction, evaluation."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from scisft.bio import orthologs as ortho
from scisft.bio.data import AffinityData, DrugCache
from scisft.bio.model import AffinityConfig
from scisft.bio.sequences import read_fasta
from scisft.bio.store import load
from scisft.bio.tables import from_deepdta, from_drugcentral, from_gtopdb, read_affinities
from scisft.bio.train import (
    ANCHORS,
    METHODS,
    TransferOptions,
    anchor_override,
    evaluate,
    predict,
    pretrain,
    transfer,
)
from scisft.checkpoint import read_manifest
from scisft.errors import ConfigError, DataError
from scisft.files import atomic_path, write_json


def _write_csv(frame: pd.DataFrame, path) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def register(subparsers) -> None:
    parser = subparsers.add_parser("bio", help="drug-target affinity: pretrain, transfer across species, evaluate")
    commands = parser.add_subparsers(dest="bio_command", metavar="COMMAND")

    convert = commands.add_parser("convert", help="affinity table from a published source")
    convert.add_argument("--source", choices=("gtopdb", "davis", "kiba", "drugcentral"), required=True)
    convert.add_argument("--input", required=True, help="GtoPdb folder, DeepDTA data folder, or DrugCentral TSV")
    convert.add_argument("--out", required=True, help="affinity CSV to write")
    convert.add_argument("--sequences-out", help="(davis, kiba) FASTA of their proteins")
    convert.set_defaults(func=_convert)

    orth = commands.add_parser("orthologs", help="human-mouse ortholog pairs with sequence identity")
    orth.add_argument("--gtopdb", help="GtoPdb folder (curated target map; also maps gene symbols to UniProt)")
    orth.add_argument("--genes", help="Ensembl BioMart or HCOP human_to_mouse table (needs --gtopdb)")
    orth.add_argument("--human-fasta", help="with --mouse-fasta and no table: reciprocal best hits")
    orth.add_argument("--mouse-fasta")
    orth.add_argument("--sequences", help="FASTA to compute identities from (any species)")
    orth.add_argument("--out", required=True)
    orth.set_defaults(func=_orthologs)

    pre = commands.add_parser("pretrain", help="train an affinity model on one species")
    pre.add_argument("--data", required=True)
    pre.add_argument("--sequences", required=True, help="FASTA with a sequence for every target id")
    pre.add_argument("--out", required=True)
    pre.add_argument("--drug-encoder", choices=("gnn", "fingerprint"), default="gnn")
    pre.add_argument("--epochs", type=int)
    pre.add_argument("--seed", type=int, default=0)
    pre.set_defaults(func=_pretrain)

    tr = commands.add_parser("transfer", help="adapt a model to another species (default: mouse)")
    tr.add_argument("--base", required=True)
    tr.add_argument("--data", required=True)
    tr.add_argument("--sequences", required=True)
    tr.add_argument("--orthologs", help="CSV human_id, mouse_id[, identity]: enables the ortholog term")
    tr.add_argument("--out", required=True)
    tr.add_argument("--method", choices=METHODS, default="adapters")
    tr.add_argument("--ungated", action="store_true", help="adapters act on every species (default: target only)")
    tr.add_argument("--ortholog-weight", type=float, default=1.0)
    tr.add_argument(
        "--anchor",
        choices=ANCHORS,
        default="own",
        help="encode a target from its own sequence, or from its ortholog's (needs --orthologs here and to predict)",
    )
    tr.add_argument("--ewc", type=float, default=0.0, help="EWC strength (needs --source-data)")
    tr.add_argument("--source-data", help="source-species affinity table for the EWC Fisher")
    tr.add_argument("--species", default="mouse")
    tr.add_argument("--epochs", type=int)
    tr.add_argument("--seed", type=int, default=0)
    tr.set_defaults(func=_transfer)

    for name, helptext, func in (
        ("predict", "predict affinities for a table", _predict),
        ("evaluate", "RMSE, Pearson, Spearman, CI on a table", _evaluate),
    ):
        cmd = commands.add_parser(name, help=helptext)
        cmd.add_argument("--model", required=True)
        cmd.add_argument("--adapter")
        cmd.add_argument("--data", required=True)
        cmd.add_argument("--sequences", required=True)
        cmd.add_argument("--orthologs", help="ortholog CSV; needed by an adapter transferred with --anchor ortholog")
        if name == "predict":
            cmd.add_argument("--out", required=True)
        else:
            cmd.add_argument("--json", action="store_true")
        cmd.set_defaults(func=func)
    parser.set_defaults(func=lambda args: parser.print_help())


def _convert(args) -> int:
    if args.source == "gtopdb":
        table, skipped = from_gtopdb(args.input)
        print(f"skipped: {dict(skipped)}")
    elif args.source == "drugcentral":
        table = from_drugcentral(args.input)
        print("note: DrugCentral links drugs to structures by name only; the table has no SMILES (name_only=True)")
    else:
        table, sequences, _, _ = from_deepdta(args.input, args.source)
        if args.sequences_out:
            with atomic_path(args.sequences_out) as tmp:
                tmp.write_text("".join(f">{k}\n{v}\n" for k, v in sequences.items()))
    _write_csv(table, args.out)
    print(f"wrote {len(table)} rows to {args.out}")
    return 0


def _orthologs(args) -> int:
    if args.genes:
        if not args.gtopdb:
            raise DataError("mapping genes to UniProt needs --gtopdb", field="--genes")
        pairs = ortho.from_gene_table(args.genes, args.gtopdb)
    elif args.gtopdb:
        pairs = ortho.from_gtopdb(args.gtopdb)
    elif args.human_fasta and args.mouse_fasta:
        pairs = ortho.reciprocal_best_hits(read_fasta(args.human_fasta)[0], read_fasta(args.mouse_fasta)[0])
    else:
        raise DataError("give --gtopdb, --genes with --gtopdb, or --human-fasta with --mouse-fasta")
    if args.sequences and "identity" not in pairs:
        sequences = read_fasta(args.sequences)[0]
        pairs = ortho.add_identity(pairs, sequences, sequences)
    _write_csv(pairs, args.out)
    print(f"wrote {len(pairs)} pairs to {args.out}")
    return 0


def _pretrain(args) -> int:
    table, skipped = read_affinities(args.data, on_error="skip")
    sequences, cleaning = read_fasta(args.sequences)
    _, summary = pretrain(
        table, sequences, args.out, AffinityConfig(drug_encoder=args.drug_encoder), seed=args.seed, epochs=args.epochs
    )
    print(f"skipped rows: {dict(skipped) or 'none'}; sequences: {cleaning}; {summary['skipped']}")
    print(f"model written to {args.out}; validation: {json.dumps(summary['validation'])}")
    return 0


def _transfer(args) -> int:
    table, skipped = read_affinities(args.data, on_error="skip")
    sequences, _ = read_fasta(args.sequences)
    pairs = ortho.read_pairs(args.orthologs) if args.orthologs else None
    if pairs is not None and "identity" not in pairs:
        pairs = ortho.add_identity(pairs, sequences, sequences)
    source = read_affinities(args.source_data, on_error="skip")[0] if args.source_data else None
    options = TransferOptions(
        method=args.method,
        gated=not args.ungated,
        ortholog_weight=args.ortholog_weight,
        ewc=args.ewc,
        species=args.species,
        anchor=args.anchor,
    )
    _, summary = transfer(
        load(args.base), table, sequences, args.out, options, pairs, source, seed=args.seed, epochs=args.epochs
    )
    write_json(Path(args.out) / "report.json", summary)
    t = summary["trainable"]
    print(
        f"transferred ({args.method}): {t['trainable']:,} trainable parameters ({100 * t['fraction']:.2f}%), "
        f"{summary['ortholog_targets']} targets with an ortholog term -> {args.out}"
    )
    return 0


def _data(args):
    model = load(args.model, args.adapter)
    table, skipped = read_affinities(args.data, on_error="skip")
    sequences = read_fasta(args.sequences)[0]
    method = read_manifest(args.adapter)["extra"].get("method", {}) if args.adapter else {}
    override = None
    if method.get("anchor") == "ortholog":
        if not args.orthologs:
            raise ConfigError(
                f"{args.adapter}: this adapter was transferred with --anchor ortholog; give --orthologs (the same "
                "kind of table as for transfer) so each target is encoded from its ortholog's sequence"
            )
        override = anchor_override(table, sequences, ortho.read_pairs(args.orthologs), method["species"])
    data = AffinityData(
        table,
        sequences,
        model.config,
        DrugCache(model.config.drug_encoder),
        on_missing="skip",
        sequence_override=override,
    )
    return model, data, skipped + data.skipped


def _predict(args) -> int:
    model, data, skipped = _data(args)
    out = data.table.copy()
    out["predicted_p_affinity"] = predict(model, data)
    _write_csv(out, args.out)
    print(f"wrote {len(out)} predictions to {args.out}; skipped: {dict(skipped) or 'none'}")
    return 0


def _evaluate(args) -> int:
    model, data, skipped = _data(args)
    metrics = {**evaluate(model, data), "skipped": dict(skipped)}
    print(json.dumps(metrics, indent=2) if args.json else "  ".join(f"{k}: {v}" for k, v in metrics.items()))
    return 0
