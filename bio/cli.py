"""``scisft bio ...``: affinity tables, orthologs, pretraining, transfer across species, prediction, evaluation."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from scisft.bio.options import ANCHORS, METHODS

SEQ_HELP = "FASTA with a sequence for every target id (e.g. ../shared/data/dti/sequences/CD_prot_seq.fas.xz)"
TABLE_HELP = "affinity CSV (smiles, target_id, species, p_affinity), as `scisft bio convert` writes it"


def _write_csv(frame, path) -> None:
    from scisft.files import atomic_path

    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def register(subparsers) -> None:
    parser = subparsers.add_parser("bio", help="drug-target affinity: pretrain, transfer across species, evaluate")
    commands = parser.add_subparsers(dest="bio_command", metavar="COMMAND")

    convert = commands.add_parser("convert", help="affinity table from a published source")
    convert.add_argument(
        "--source", choices=("gtopdb", "davis", "kiba", "drugcentral"), required=True, help="which published set"
    )
    convert.add_argument("--input", required=True, help="GtoPdb folder, DeepDTA data folder, or DrugCentral TSV")
    convert.add_argument("--out", required=True, help="affinity CSV to write")
    convert.add_argument("--sequences-out", help="(davis, kiba) FASTA of their proteins")
    convert.set_defaults(func=_convert)

    orth = commands.add_parser("orthologs", help="human-mouse ortholog pairs with sequence identity")
    orth.add_argument("--gtopdb", help="GtoPdb folder (curated target map; also maps gene symbols to UniProt)")
    orth.add_argument("--genes", help="Ensembl BioMart or HCOP human_to_mouse table (needs --gtopdb)")
    orth.add_argument("--human-fasta", help="with --mouse-fasta and no table: reciprocal best hits")
    orth.add_argument("--mouse-fasta", help="with --human-fasta: mouse sequences for reciprocal best hits")
    orth.add_argument("--sequences", help="FASTA to compute identities from (any species)")
    orth.add_argument("--out", required=True, help="ortholog CSV to write (human_id, mouse_id, identity)")
    orth.set_defaults(func=_orthologs)

    pre = commands.add_parser("pretrain", help="train an affinity model on one species")
    pre.add_argument("--data", required=True, help=TABLE_HELP)
    pre.add_argument("--sequences", required=True, help=SEQ_HELP)
    pre.add_argument("--out", required=True, help="model directory to write")
    pre.add_argument(
        "--drug-encoder",
        choices=("gnn", "fingerprint"),
        default="gnn",
        help="gnn: a graph network on RDKit molecules; fingerprint: an MLP on Morgan fingerprints",
    )
    pre.add_argument("--epochs", type=int, help="training epochs (default: 40, with early stopping)")
    pre.add_argument("--seed", type=int, default=0, help="random seed (split, initialisation, batch order)")
    pre.set_defaults(func=_pretrain)

    tr = commands.add_parser("transfer", help="adapt a model to another species (default: mouse)")
    tr.add_argument("--base", required=True, help="model directory written by `scisft bio pretrain`")
    tr.add_argument("--data", required=True, help=TABLE_HELP + "; rows of the species to adapt to")
    tr.add_argument("--sequences", required=True, help=SEQ_HELP)
    tr.add_argument("--orthologs", help="CSV human_id, mouse_id[, identity]: enables the ortholog term")
    tr.add_argument("--out", required=True, help="adapter directory (adapters) or model directory to write")
    tr.add_argument(
        "--method",
        choices=METHODS,
        default="adapters",
        help="adapters: protein-side adapters, the rest frozen; full: every weight; scratch: a new model",
    )
    tr.add_argument("--ungated", action="store_true", help="adapters act on every species (default: target only)")
    tr.add_argument(
        "--ortholog-weight", type=float, default=1.0, help="strength of the pull towards the ortholog's representation"
    )
    tr.add_argument(
        "--anchor",
        choices=ANCHORS,
        default="own",
        help="encode a target from its own sequence, or from its ortholog's (needs --orthologs here and to predict)",
    )
    tr.add_argument("--ewc", type=float, default=0.0, help="EWC strength (needs --source-data)")
    tr.add_argument("--source-data", help="source-species affinity table for the EWC Fisher")
    tr.add_argument("--species", default="mouse", help="the species adapted to (its name in the table's species)")
    tr.add_argument("--epochs", type=int, help="training epochs (default: 40, with early stopping)")
    tr.add_argument("--seed", type=int, default=0, help="random seed")
    tr.set_defaults(func=_transfer)

    for name, helptext, func in (
        ("predict", "predict affinities for a table", _predict),
        ("evaluate", "RMSE, Pearson, Spearman, CI on a table", _evaluate),
    ):
        cmd = commands.add_parser(name, help=helptext)
        cmd.add_argument("--model", required=True, help="model directory written by `scisft bio pretrain`")
        cmd.add_argument("--adapter", help="adapter directory written by `scisft bio transfer`")
        cmd.add_argument("--data", required=True, help=TABLE_HELP)
        cmd.add_argument("--sequences", required=True, help=SEQ_HELP)
        cmd.add_argument("--orthologs", help="ortholog CSV; needed by an adapter transferred with --anchor ortholog")
        if name == "predict":
            cmd.add_argument("--out", required=True, help="CSV to write: the table with predicted_p_affinity")
        else:
            cmd.add_argument("--json", action="store_true", help="print JSON instead of a line")
        cmd.set_defaults(func=func)
    parser.set_defaults(func=lambda args: parser.print_help())


def _convert(args) -> int:
    from scisft.bio.tables import from_deepdta, from_drugcentral, from_gtopdb
    from scisft.files import atomic_path

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
    from scisft.bio import orthologs as ortho
    from scisft.bio.sequences import read_fasta
    from scisft.errors import DataError

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
    unknown = int(pairs["identity"].isna().sum()) if "identity" in pairs else 0
    note = f"; {unknown} without identity (a sequence missing from --sequences; left empty)" if unknown else ""
    print(f"wrote {len(pairs)} pairs to {args.out}{note}")
    return 0


def _pretrain(args) -> int:
    from scisft.bio.model import AffinityConfig
    from scisft.bio.sequences import read_fasta
    from scisft.bio.tables import read_affinities
    from scisft.bio.train import pretrain

    table, skipped = read_affinities(args.data, on_error="skip")
    sequences, cleaning = read_fasta(args.sequences)
    _, summary = pretrain(
        table, sequences, args.out, AffinityConfig(drug_encoder=args.drug_encoder), seed=args.seed, epochs=args.epochs
    )
    print(f"rows left out: {_counts(skipped + Counter(summary['skipped']))}; sequences: {cleaning}")
    print(f"model written to {args.out}; validation: {_numbers(summary['validation'])}")
    return 0


def _counts(skipped) -> str:
    """'none', or each reason with its count, largest first."""
    return ", ".join(f"{n} {why}" for why, n in Counter(skipped).most_common() if n) or "none"


def _numbers(metrics: dict) -> str:
    """Metrics as 'name value' with 4 significant digits."""
    return "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items())


def _transfer(args) -> int:
    from scisft.bio import orthologs as ortho
    from scisft.bio.options import TransferOptions
    from scisft.bio.sequences import read_fasta
    from scisft.bio.store import load
    from scisft.bio.tables import read_affinities
    from scisft.bio.train import transfer
    from scisft.files import write_json

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
        load(args.base),
        table,
        sequences,
        args.out,
        options,
        pairs,
        source,
        seed=args.seed,
        epochs=args.epochs,
        base=args.base,
    )
    write_json(Path(args.out) / "report.json", summary)
    t = summary["trainable"]
    print(
        f"transferred ({args.method}): {t['trainable']:,} trainable parameters ({100 * t['fraction']:.2f}%), "
        f"{summary['ortholog_targets']} targets with an ortholog term -> {args.out}"
    )
    return 0


def _data(args):
    from scisft.bio import orthologs as ortho
    from scisft.bio.data import AffinityData, DrugCache
    from scisft.bio.sequences import read_fasta
    from scisft.bio.store import load
    from scisft.bio.tables import read_affinities
    from scisft.bio.train import anchor_override
    from scisft.checkpoint import read_manifest
    from scisft.errors import ConfigError

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
    from scisft.bio.train import predict

    model, data, skipped = _data(args)
    out = data.table.copy()
    out["predicted_p_affinity"] = predict(model, data)
    _write_csv(out, args.out)
    print(f"wrote {len(out)} predictions to {args.out}; rows left out: {_counts(skipped)}")
    return 0


def _evaluate(args) -> int:
    from scisft.bio.train import evaluate

    model, data, skipped = _data(args)
    metrics = evaluate(model, data)
    if args.json:
        print(json.dumps({**metrics, "skipped": dict(skipped)}, indent=2))
    else:
        print(f"{_numbers(metrics)}  (pairs: {len(data)}; rows left out: {_counts(skipped)})")
    return 0
