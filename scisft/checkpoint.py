"""Checkpoints: safetensors only (loading never runs code), adapter-only files, and a JSON manifest.

An adapter directory holds ``adapter.safetensors`` (just that adapter's tensors, kilobytes) and ``manifest.json``:
the adapter's name, which module got which method with which config (enough to rebuild it), a fingerprint of the
base model's weights, the tensor names/shapes/dtypes, the file's size and SHA-256, metrics and package versions.
The manifest is written last, so a directory with a manifest is complete.

Loading validates everything before any tensor is used: the manifest against its schema, the base fingerprint
(an adapter loads only onto the base it was trained from), the file's size and hash (truncated or corrupted files
are refused), and the tensor header against the manifest and the rebuilt adapter. If anything fails after the
adapter was attached, it is removed again: a failed load leaves the model as it was.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from scisft.adapters.base import (
    Adapter,
    adapter_names,
    adapter_state,
    base_state_dict,
    config_from_dict,
    hosts,
    remove,
)
from scisft.errors import CheckpointError
from scisft.files import atomic_path, sha256_file, write_json

ADAPTER_FILE = "adapter.safetensors"
MANIFEST_FILE = "manifest.json"
FORMAT = "scisft-adapter"
FORMAT_VERSION = 1
MAX_FILE_BYTES = 4 << 30
CONFIG_FILE = "config.json"  # beside a model's weights (see save_model_directory)


def fingerprint(model: nn.Module) -> str:
    """SHA-256 over the base model's state (adapters excluded), of the values rounded to float32.

    Rounding makes the same model match whether it is held in float32 or float64 (and a float64-trained model
    still match after loading in float32); models differing only below float32 precision count as the same.
    """
    digest = hashlib.sha256()
    state = base_state_dict(model)
    for key in sorted(state):
        tensor = state[key].detach().cpu()
        if tensor.is_floating_point():
            tensor = tensor.to(torch.float32)
        digest.update(key.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.contiguous().numpy().tobytes())
    return digest.hexdigest()


def package_versions() -> dict[str, str]:
    """Versions of Python and of the packages that shape a checkpoint."""
    found = {"python": platform.python_version()}
    for name in ("scisft", "torch", "e3nn", "torch_geometric", "numpy", "safetensors"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return found


def describe_adapter(model: nn.Module, name: str) -> list[dict[str, Any]]:
    """Which module got which method with which config, for adapter ``name``."""
    entries = []
    for host_name, _, _, adapter in hosts(model, name):
        if isinstance(adapter, Adapter):
            entries.append(
                {"module": host_name, "method": adapter.config.method, "config": dataclasses.asdict(adapter.config)}
            )
        else:  # rows of an ExtendableEmbedding
            entries.append({"module": host_name, "method": "extend_rows", "config": {"rows": int(adapter.shape[0])}})
    return entries


def save_adapter(
    model: nn.Module,
    name: str,
    directory: str | os.PathLike,
    *,
    metrics: dict | None = None,
    extra: dict | None = None,
) -> Path:
    """Write adapter ``name`` of ``model`` to ``directory`` (created if needed); returns the directory."""
    directory = Path(directory)
    modules = describe_adapter(model, name)
    if not modules:
        raise CheckpointError(f"model has no adapter named {name!r}; it has: {adapter_names(model) or 'none'}")
    tensors = {k: v.detach().cpu().contiguous() for k, v in adapter_state(model, name).items()}
    directory.mkdir(parents=True, exist_ok=True)
    with atomic_path(directory / ADAPTER_FILE) as tmp:
        save_file(tensors, str(tmp), metadata={"format": FORMAT})
    path = directory / ADAPTER_FILE
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "adapter": name,
        "modules": modules,
        "base": {"fingerprint": fingerprint(model)},
        "tensors": {
            k: {"shape": list(v.shape), "dtype": str(v.dtype).removeprefix("torch.")} for k, v in tensors.items()
        },
        "file": {"name": ADAPTER_FILE, "bytes": path.stat().st_size, "sha256": sha256_file(path)},
        "metrics": metrics or {},
        "versions": package_versions(),
        "extra": extra or {},
    }
    write_json(directory / MANIFEST_FILE, manifest)
    return directory


_SCHEMA: dict[str, type] = {
    "format": str,
    "format_version": int,
    "adapter": str,
    "modules": list,
    "base": dict,
    "tensors": dict,
    "file": dict,
    "metrics": dict,
    "versions": dict,
    "extra": dict,
}


def read_manifest(directory: str | os.PathLike) -> dict[str, Any]:
    """Read and validate an adapter directory's manifest."""
    path = Path(directory) / MANIFEST_FILE
    if not path.is_file():
        raise CheckpointError(f"{path}: no manifest; is {directory} an adapter directory written by scisft?")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(
            f"{path}: not valid JSON ({exc}); the file is corrupted, write the adapter again"
        ) from None
    if not isinstance(manifest, dict):
        raise CheckpointError(f"{path}: expected a JSON object at the top level")
    for key, kind in _SCHEMA.items():
        if not isinstance(manifest.get(key), kind):
            raise CheckpointError(f"{path}: field '{key}' is missing or not a {kind.__name__}")
    if manifest["format"] != FORMAT or manifest["format_version"] > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: format {manifest['format']!r} v{manifest['format_version']} is not one this scisft reads "
            f"({FORMAT!r} up to v{FORMAT_VERSION}); upgrade scisft"
        )
    for i, entry in enumerate(manifest["modules"]):
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("module"), str)
            and isinstance(entry.get("method"), str)
            and isinstance(entry.get("config"), dict)
        ):
            raise CheckpointError(f"{path}: field 'modules' record {i} needs 'module', 'method' and 'config'")
    for key in ("name", "bytes", "sha256"):
        if key not in manifest["file"]:
            raise CheckpointError(f"{path}: field 'file' lacks '{key}'")
    if not isinstance(manifest["base"].get("fingerprint"), str):
        raise CheckpointError(f"{path}: field 'base' lacks 'fingerprint'")
    for key, spec in manifest["tensors"].items():
        if not (isinstance(spec, dict) and isinstance(spec.get("shape"), list) and isinstance(spec.get("dtype"), str)):
            raise CheckpointError(f"{path}: field 'tensors' record '{key}' needs 'shape' (list) and 'dtype' (string)")
    return manifest


def check_tensor_file(path: Path, expected_bytes: int | None = None, expected_sha256: str | None = None) -> None:
    """Refuse a missing, oversize, truncated or altered safetensors file before reading it."""
    if not path.is_file():
        raise CheckpointError(f"{path}: file is missing")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise CheckpointError(f"{path}: {size} bytes is more than the {MAX_FILE_BYTES} bytes scisft will load")
    if expected_bytes is not None and size != expected_bytes:
        raise CheckpointError(
            f"{path}: {size} bytes, but its manifest says {expected_bytes}: the file is truncated or was replaced"
        )
    if expected_sha256 is not None and sha256_file(path) != expected_sha256:
        raise CheckpointError(f"{path}: contents do not match the SHA-256 in the manifest: the file is corrupted")


def read_tensors(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read every tensor and the string metadata of a safetensors file, with a clear error if it is damaged."""
    path = Path(path)
    check_tensor_file(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
        return load_file(str(path)), meta
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(
            f"{path}: not a readable safetensors file ({exc}); it is truncated or corrupted"
        ) from None


def load_adapter(model: nn.Module, directory: str | os.PathLike) -> dict[str, Any]:
    """Attach the adapter in ``directory`` to ``model`` and load its weights; returns the manifest.

    Refuses a base model whose fingerprint differs from the one the adapter was trained on.
    """
    directory = Path(directory)
    manifest = read_manifest(directory)
    name = manifest["adapter"]
    expected, actual = manifest["base"]["fingerprint"], fingerprint(model)
    if expected != actual:
        raise CheckpointError(
            f"{directory}: adapter {name!r} was trained on the base model with fingerprint {expected[:16]}..., "
            f"but this model's is {actual[:16]}...; load it onto the base model it was made for "
            f"(the one whose directory is recorded as {manifest['extra'].get('base', 'unknown')!r})"
        )
    if name in adapter_names(model):
        raise CheckpointError(f"{directory}: the model already has an adapter named {name!r}; remove it first")
    path = directory / manifest["file"]["name"]
    check_tensor_file(path, manifest["file"]["bytes"], manifest["file"]["sha256"])
    tensors, _ = read_tensors(path)
    named = dict(model.named_modules())
    try:
        for entry in manifest["modules"]:
            if entry["module"] not in named:
                raise CheckpointError(
                    f"{directory}: module '{entry['module']}' named in the manifest is not in the model"
                )
            config_from_dict(entry["method"], entry["config"]).attach(named[entry["module"]], name)
        state = adapter_state(model, name)
        _check_same_tensors(directory, manifest["tensors"], tensors, state)
        with torch.no_grad():
            for key, target in state.items():
                target.copy_(tensors[key].to(device=target.device, dtype=target.dtype))
    except Exception:
        if name in adapter_names(model):
            remove(model, name)
        raise
    return manifest


def _check_same_tensors(directory: Path, listed: dict, found: dict[str, torch.Tensor], wanted: dict[str, torch.Tensor]):
    for source, keys in (("manifest", set(listed)), ("file", set(found))):
        if keys != set(wanted):
            missing, unexpected = sorted(set(wanted) - keys), sorted(keys - set(wanted))
            raise CheckpointError(
                f"{directory}: the {source}'s tensors do not fit the rebuilt adapter "
                f"(missing {missing[:5]}, unexpected {unexpected[:5]})"
            )
    for key, target in wanted.items():
        shape = list(found[key].shape)
        if shape != list(target.shape) or listed[key]["shape"] != shape:
            raise CheckpointError(
                f"{directory}: tensor '{key}' has shape {shape} (manifest {listed[key]['shape']}), "
                f"the rebuilt adapter needs {list(target.shape)}"
            )
        if str(found[key].dtype).removeprefix("torch.") != listed[key]["dtype"]:
            raise CheckpointError(
                f"{directory}: tensor '{key}' dtype differs from the manifest's {listed[key]['dtype']}"
            )


def save_weights(model: nn.Module, path: str | os.PathLike, metadata_: dict[str, str] | None = None) -> None:
    """Write the base model's state (adapters excluded) to a safetensors file, atomically."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in base_state_dict(model).items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata_ or {})


def save_model_directory(
    model: nn.Module,
    directory: str | os.PathLike,
    kind: str,
    info: dict | None = None,
    weights: str = "model.safetensors",
) -> Path:
    """Write a model directory: ``weights`` (safetensors) + ``config.json`` (kind, ``model.config``, provenance)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_weights(model, directory / weights, {"kind": kind})
    config = {
        "kind": kind,
        "format_version": 1,
        "model": dataclasses.asdict(model.config),
        "info": info or {},
        "versions": package_versions(),
    }
    write_json(directory / CONFIG_FILE, config)
    return directory


def load_weights(model: nn.Module, path: str | os.PathLike) -> dict[str, str]:
    """Load a base model's state written by ``save_weights``; every name and shape must match."""
    tensors, meta = read_tensors(path)
    wanted = base_state_dict(model)
    if set(tensors) != set(wanted):
        missing, unexpected = sorted(set(wanted) - set(tensors)), sorted(set(tensors) - set(wanted))
        raise CheckpointError(
            f"{path}: weights do not fit this model (missing {missing[:5]}, unexpected {unexpected[:5]}); "
            "the config beside them may have been edited"
        )
    for key, target in wanted.items():
        if tuple(tensors[key].shape) != tuple(target.shape):
            raise CheckpointError(
                f"{path}: tensor '{key}' has shape {tuple(tensors[key].shape)}, the model needs {tuple(target.shape)}"
            )
    model.load_state_dict({k: v.to(wanted[k].dtype) for k, v in tensors.items()}, strict=False)
    return meta
