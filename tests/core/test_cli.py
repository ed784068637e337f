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
