"""The ``scisft`` command. Plugins add subcommand groups through the ``scisft.commands`` entry point group:
each entry point is a function ``register(subparsers)`` that adds its parser and sets ``func`` on it.

Errors that scisft raises on purpose (``ScisftError``) are printed as one message, exit status 2; no traceback.
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import entry_points

import scisft
from scisft.errors import ScisftError


def _broken(name: str, exc: Exception):
    def run(args: argparse.Namespace) -> int:
        raise ScisftError(
            f"the '{name}' commands could not be loaded ({type(exc).__name__}: {exc}); "
            "reinstall scisft with its dependencies: pip install -e ."
        )

    return run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scisft",
        description="Adapt pretrained scientific models to a new domain by training a small set of parameters.",
    )
    parser.add_argument("--version", action="version", version=f"scisft {scisft.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for ep in sorted(entry_points(group="scisft.commands"), key=lambda e: e.name):
        try:
            ep.load()(sub)
        except Exception as exc:  # a plugin that cannot import must not take the whole command down
            sub.add_parser(ep.name, help=f"(unavailable: {exc})").set_defaults(func=_broken(ep.name, exc))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        return int(args.func(args) or 0)
    except ScisftError as exc:
        print(f"scisft: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("scisft: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
