import subprocess
import sys

import scisft
from scisft.cli import main


def test_version_and_help(capsys):
    try:
        main(["--version"])
    except SystemExit as exc:
        assert exc.code == 0
    assert scisft.__version__ in capsys.readouterr().out
    assert main([]) == 0
    assert "COMMAND" in capsys.readouterr().out


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "scisft.cli", "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "usage: scisft" in out.stdout


def test_help_and_argument_errors_do_not_import_torch():
    """Start-up stays fast: the parser is built from light modules; torch comes when a command runs."""
    code = (
        "import sys; from scisft.cli import build_parser; build_parser(); "
        "heavy = [m for m in ('torch', 'e3nn', 'rdkit', 'pandas', 'matplotlib') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


def test_every_flag_has_help_and_defaults_are_shown():
    import argparse

    from scisft.cli import _all_parsers, build_parser

    parser = build_parser()
    for each in _all_parsers(parser):
        for action in each._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            assert action.help, f"{each.prog} {action.option_strings or action.dest}: no help text"
    text = next(p for p in _all_parsers(parser) if p.prog.endswith("add-element")).format_help()
    assert "(default: gated)" in text and "(default: 0.0)" in text


def test_thread_rule(monkeypatch):
    from scisft import threads

    assert threads.choose_threads(3) == (3, "asked for with --threads")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert threads.choose_threads()[0] == 1
    monkeypatch.delenv("OMP_NUM_THREADS")
    monkeypatch.setattr(threads, "idle_cores", lambda: 0.3)  # another process holds the cores
    assert threads.choose_threads()[0] == 1
    monkeypatch.setattr(threads, "idle_cores", lambda: float(threads.available_cores()))
    assert threads.choose_threads()[0] == threads.available_cores()
    monkeypatch.undo()
    assert 0.0 <= threads.idle_cores(0.05) <= threads.available_cores()
