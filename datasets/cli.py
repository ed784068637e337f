"""``scisft data ...``: list the catalogue, fetch a set (checked), print where it is, verify a copy, make ours, and
select rows of a table (``select --where``: pandas' query language, e.g. "species == 'mouse'" or
"temperature_K > 300"), so a user can split a tidy table by temperature, species or target without writing code."""

from __future__ import annotations

import argparse
from pathlib import Path

from scisft.errors import DataError


def register(subparsers) -> None:
    parser = subparsers.add_parser("data", help="data sets: list, fetch (checksummed), path, verify, make, select")
    parser.set_defaults(uses_torch=False)
    commands = parser.add_subparsers(dest="data_command", metavar="COMMAND")
    commands.add_parser("list", help="the catalogue").set_defaults(func=_list)
    name_help = "a data set's name in the catalogue (`scisft data list`)"
    cmd = commands.add_parser("fetch", help="fetch a data set into the cache, verifying checksums")
    cmd.add_argument("name", help=name_help)
    cmd.add_argument("--from", dest="local", help="copy from a local copy (e.g. ../shared/data) instead")
    cmd.set_defaults(func=_fetch)
    cmd = commands.add_parser("path", help="print the cache folder of a fetched data set")
    cmd.add_argument("name", help=name_help)
    cmd.set_defaults(func=_path)
    cmd = commands.add_parser("verify", help="check a folder against the catalogue's checksums")
    cmd.add_argument("name", help=name_help)
    cmd.add_argument("folder", nargs="?", help="default: the cache folder")
    cmd.set_defaults(func=_verify)
    cmd = commands.add_parser("make", help="make the project's own data (see datasets/cards)")
    cmd.add_argument("name", choices=("chno-xtb",), help="which of the project's own sets")
    cmd.add_argument("--out", help="folder to write (default: the committed location)")
    cmd.add_argument("--quick", action="store_true", help="a few molecules only (a smoke test of the recipe)")
    cmd.set_defaults(func=_make)
    cmd = commands.add_parser("select", help="write the rows of a CSV table that match a condition")
    cmd.add_argument("table", help="CSV table (plain or .xz/.gz)")
    cmd.add_argument(
        "--where", required=True, help='a pandas query, e.g. "species == \'mouse\'" or "temperature_K > 300"'
    )
    cmd.add_argument("--out", required=True, help="CSV to write with the matching rows")
    cmd.add_argument("--rest", help="CSV to write with the other rows (a split in one call)")
    cmd.set_defaults(func=_select)
    parser.set_defaults(func=lambda args: parser.print_help())


def _list(args: argparse.Namespace) -> int:
    from scisft.datasets.catalogue import cache_dir, catalogue, verify

    print(f"cache: {cache_dir()}")
    for name, dataset in catalogue().items():
        here = "fetched" if dataset.folder.is_dir() and not verify(dataset, dataset.folder) else "-"
        print(f"{name:28s} {here:8s} {dataset.title}")
    return 0


def _path(args: argparse.Namespace) -> int:
    from scisft.datasets.catalogue import path

    print(path(args.name))
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from scisft.datasets.catalogue import fetch, get

    folder = fetch(args.name, args.local)
    print(f"{args.name}: {len(get(args.name).files)} files verified in {folder}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from scisft.datasets.catalogue import get, verify

    dataset = get(args.name)
    folder = Path(args.folder) if args.folder else dataset.folder
    problems = verify(dataset, folder)
    if problems:
        raise DataError("; ".join(problems[:5]) + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""))
    print(f"{args.name}: all {len(dataset.files)} files match the catalogue in {folder}")
    return 0


def _make(args: argparse.Namespace) -> int:
    from scisft.datasets.chno_xtb import make

    out = make(args.out, quick=args.quick)
    print(f"wrote {out}")
    return 0


def _select(args: argparse.Namespace) -> int:
    from scisft.datasets.select import select

    kept, rest = select(args.table, args.where, args.out, args.rest)
    print(f"{kept} rows matched -> {args.out}" + (f"; {rest} other rows -> {args.rest}" if args.rest else ""))
    return 0
