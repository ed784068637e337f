"""Every reader, fed damaged files: it parses them or raises scisft's own error -- nothing else escapes."""

import pytest

from tests.reliability.fuzzing import run_cases
from tests.reliability.readers import READERS


@pytest.mark.parametrize("name", list(READERS))
def test_reader_survives_damaged_files(name, tmp_path):
    reader, suffix, valid = READERS[name]
    path = tmp_path / f"valid{suffix}"
    path.write_bytes(valid())
    reader(path)  # the undamaged input parses
    survived, failures = run_cases(reader, valid(), suffix, tmp_path, count=40)
    assert not failures, "\n".join(failures[:5])
    assert survived == 40
