"""The ``scisft`` command. Plugins add subcommand groups through the ``scisft.commands`` entry point group:
each entry point is a function ``register(subparsers)`` that adds its parser and sets ``func`` on it.

Errors that scisft raises on purpose (``ScisftError``) are printed as one message, exit status 2; no traceback.
Plugins' command modules import only argparse-level things at the top; their commands import torch, RDKit and the
rest when they run, so ``scisft --version``, ``--help`` and a mistyped flag answer at once. Every flag has a help
text, and help shows each default (a test walks the whole parser to check).

Threads: before a command runs, torch gets as many threads as there are idle cores (``scisft.threads``), unless
``--threads`` or ``OMP_NUM_THREADS`` says otherwise.
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


class HelpFormatter(argparse.HelpFormatter):
    """Help that shows each flag's default (when it has one that says something)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        says_nothing = default is None or default is False or default == argparse.SUPPRESS or default == []
        if action.option_strings and not says_nothing and "default" not in text:
            text += " (default: %(default)s)"
        return text


def _all_parsers(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                yield from _all_parsers(sub)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scisft",
        description="Adapt pretrained scientific models to a new domain by training a small set of parameters.",
    )
    parser.add_argument("--version", action="version", version=f"scisft {scisft.__version__}")
    parser.add_argument(
        "--threads",
        type=int,
        help="torch threads (default: the cores idle when the command starts, at least 1; or OMP_NUM_THREADS)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for ep in sorted(entry_points(group="scisft.commands"), key=lambda e: e.name):
        try:
            ep.load()(sub)
        except Exception as exc:  # a plugin that cannot import must not take the whole command down
            sub.add_parser(ep.name, help=f"(unavailable: {exc})").set_defaults(func=_broken(ep.name, exc))
    for each in _all_parsers(parser):
        each.formatter_class = HelpFormatter
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        if getattr(args, "uses_torch", True):
            from scisft.threads import apply_thread_rule

            print(f"scisft: {apply_thread_rule(args.threads)}", file=sys.stderr)
        return int(args.func(args) or 0)
    except ScisftError as exc:
        print(f"scisft: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("scisft: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
