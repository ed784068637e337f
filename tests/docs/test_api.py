"""The Python examples in docs/api.md run as written."""

import re

import pytest

from tests.helpers import ROOT


@pytest.mark.parametrize("index", [0, 1])
def test_api_example_runs(index, tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "api.md").read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 2
    monkeypatch.chdir(tmp_path)
    exec(compile(blocks[index], f"docs/api.md example {index + 1}", "exec"), {})
    if index == 0:
        assert (tmp_path / "adapter" / "adapter.safetensors").is_file()
