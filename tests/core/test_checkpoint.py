import json

import pytest
import torch
from e3nn import o3
from torch import nn

from scisft import (
    CheckpointError,
    EquivariantLoRAConfig,
    ExtendableEmbedding,
    LoRAConfig,
    Plan,
    Rule,
    adapter_names,
    adapter_parameters,
    fingerprint,
    load_adapter,
    save_adapter,
)
from scisft.checkpoint import load_weights, save_weights


class Net(nn.Module):
    def __init__(self, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.emb = ExtendableEmbedding(3, 4)
        self.mix = o3.Linear("4x0e", "4x0e + 0x1o")
        self.out = nn.Linear(4, 2)

    def forward(self, idx):
        return self.out(self.mix(self.emb(idx)))


def adapted(seed=0):
    net = Net(seed)
    net.emb.extend("new", 1)
    Plan([Rule("mix", EquivariantLoRAConfig(rank=2)), Rule("out", LoRAConfig(rank=2))]).apply(net, "new")
    with torch.no_grad():
        for p in adapter_parameters(net, "new").values():
            p.add_(torch.randn_like(p))
    return net


IDX = torch.tensor([0, 1, 2, 3])


def test_round_trip_reproduces_outputs_exactly(tmp_path):
    net = adapted()
    out = net(IDX)
    save_adapter(net, "new", tmp_path / "a", metrics={"mae": 0.1}, extra={"element": "O"})
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["adapter"] == "new" and manifest["metrics"] == {"mae": 0.1}
    assert {m["method"] for m in manifest["modules"]} == {"extend_rows", "equivariant_lora", "lora"}
    fresh = Net()
    assert fingerprint(fresh) == manifest["base"]["fingerprint"]
    load_adapter(fresh, tmp_path / "a")
    assert torch.equal(fresh(IDX), out)


def test_fingerprint_ignores_adapters_and_float_width():
    net = Net()
    fp = fingerprint(net)
    assert fingerprint(adapted()) == fp
    assert fingerprint(Net().double()) == fp
    assert fingerprint(Net(seed=1)) != fp


def test_wrong_base_is_refused_with_the_expected_fingerprint(tmp_path):
    net = adapted()
    save_adapter(net, "new", tmp_path / "a")
    other = Net(seed=1)
    with pytest.raises(CheckpointError, match="trained on the base model with fingerprint") as err:
        load_adapter(other, tmp_path / "a")
    assert fingerprint(net)[:16] in str(err.value)
    assert adapter_names(other) == []


def test_truncated_corrupted_and_inconsistent_files_are_refused(tmp_path):
    net = adapted()
    save_adapter(net, "new", tmp_path / "a")
    data = (tmp_path / "a" / "adapter.safetensors").read_bytes()

    (tmp_path / "a" / "adapter.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        load_adapter(Net(), tmp_path / "a")

    flipped = bytearray(data)
    flipped[-3] ^= 0xFF
    (tmp_path / "a" / "adapter.safetensors").write_bytes(bytes(flipped))
    with pytest.raises(CheckpointError, match="corrupted"):
        load_adapter(Net(), tmp_path / "a")

    (tmp_path / "a" / "adapter.safetensors").write_bytes(data)
    manifest_path = tmp_path / "a" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps(manifest)[:-20])
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_adapter(Net(), tmp_path / "a")

    bad = dict(manifest)
    bad["modules"] = [{**manifest["modules"][0], "config": {"rows": 3}}] + manifest["modules"][1:]
    manifest_path.write_text(json.dumps(bad))
    target = Net()
    with pytest.raises(CheckpointError, match="shape"):
        load_adapter(target, tmp_path / "a")
    assert adapter_names(target) == [], "a failed load must leave the model as it was"

    del bad["tensors"]
    manifest_path.write_text(json.dumps(bad))
    with pytest.raises(CheckpointError, match="field 'tensors'"):
        load_adapter(Net(), tmp_path / "a")

    with pytest.raises(CheckpointError, match="no manifest"):
        load_adapter(Net(), tmp_path / "nowhere")


def test_adapter_file_is_plain_safetensors(tmp_path):
    """The tensor names in the safetensors header are exactly those the manifest lists."""
    save_adapter(adapted(), "new", tmp_path / "a")
    raw = (tmp_path / "a" / "adapter.safetensors").read_bytes()
    header_len = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + header_len])
    assert set(header) - {"__metadata__"} == set(json.loads((tmp_path / "a" / "manifest.json").read_text())["tensors"])


def test_base_weights_round_trip_and_mismatch(tmp_path):
    net = Net()
    save_weights(net, tmp_path / "w.safetensors", {"kind": "test"})
    other = Net(seed=3)
    assert load_weights(other, tmp_path / "w.safetensors") == {"kind": "test"}
    assert torch.equal(other(IDX[:3]), net(IDX[:3]))
    wrong = nn.Linear(2, 2)
    with pytest.raises(CheckpointError, match="do not fit"):
        load_weights(wrong, tmp_path / "w.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"\x00\x01garbage")
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        load_weights(net, tmp_path / "junk.safetensors")


def test_save_and_load_code_never_unpickles():
    """No pickle and no torch.load in the modules that read files."""
    import inspect

    import scisft.checkpoint
    import scisft.training

    for module in (scisft.checkpoint, scisft.training):
        source = inspect.getsource(module)
        assert "pickle" not in source and "torch.load(" not in source, module.__name__
