"""Atomic writes give the file the mode the user's umask says (not mkstemp's private 0600)."""

import os
import stat

import pytest

from scisft.files import write_text


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_follow_the_umask(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        write_text(tmp_path / "out.txt", "hello")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "out.txt").stat().st_mode) == mode
    assert (tmp_path / "out.txt").read_text() == "hello"
