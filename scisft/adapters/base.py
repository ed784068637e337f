"""How adapters attach to a model: named, stackable, switchable, mergeable, removable.

An adapter is a small module attached to one *host* module of a pretrained model. It lives in the host's
``scisft_adapters`` container (a ``ModuleDict`` keyed by adapter name), so several adapters can sit on one model
and the base model's own parameter names never change (a base checkpoint still loads, and the base weights can be
fingerprinted). One forward hook per host runs the host's active, unmerged adapters in the order they were
attached; each gets the host's inputs and output and returns the new output.

Conventions (Hugging Face PEFT's, which users know):
- an adapter is a *method* (``lora``, ``bottleneck`` ...) with a config; ``Adapter.method`` names it and
  ``Adapter.config`` rebuilds it, which is what an adapter file's manifest stores;
- a freshly attached adapter changes nothing (its last factor is zero-initialised);
- ``merge`` folds a mergeable adapter into the host's weights (inference at base speed), ``unmerge`` takes it out.

Adapters that need more than the host's input, such as a gate mask or a condition, read it from the
*adapter context*: ``with adapter_context(node_mask=m): model(x)``. The core does not know what the tensors mean.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from scisft.errors import ConfigError

SLOT = "scisft_adapters"
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")
_CONTEXT: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("scisft_adapter_context", default=None)


def check_adapter_name(name: str) -> str:
    """Return ``name`` if it can key an adapter (a letter, then letters, digits, '_' or '-'; at most 64)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(
            f"adapter name {name!r} is not usable: start with a letter, then use letters, digits, '_' or '-' "
            "(no dots, at most 64 characters)"
        )
    return name


class Adapter(nn.Module):
    """One named adaptation of one host module.

    Subclasses set ``method`` (registry key), keep their config in ``self.config`` (a dataclass), and implement
    ``adapt(host, inputs, output) -> output``. Mergeable ones also implement ``merge_into``/``unmerge_from``.
    """

    method: str = "adapter"
    mergeable: bool = False

    def __init__(self, config: Any):
        super().__init__()
        self.config = config
        self.active = True
        self.merged = False

    def adapt(self, host: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def deltas(self, host: nn.Module) -> dict[str, torch.Tensor]:
        """For a mergeable adapter: the change to the host's parameters it is equivalent to, by parameter name."""
        return {}

    def merge_into(self, host: nn.Module) -> None:
        if not self.mergeable:
            raise ConfigError(f"a '{self.config.method}' adapter cannot be merged into its host; keep it unmerged")
        for key, delta in self.deltas(host).items():
            getattr(host, key).add_(delta)

    def unmerge_from(self, host: nn.Module) -> None:
        for key, delta in self.deltas(host).items():
            getattr(host, key).sub_(delta)


def _run_adapters(host: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
    for adapter in getattr(host, SLOT).values():
        if isinstance(adapter, Adapter) and adapter.active and not adapter.merged:
            output = adapter.adapt(host, inputs, output)
    return output


def attach(host: nn.Module, name: str, adapter: nn.Module) -> None:
    """Attach ``adapter`` to ``host`` under ``name``; the first attachment registers the host's hook."""
    check_adapter_name(name)
    slot = getattr(host, SLOT, None)
    if slot is None:
        slot = nn.ModuleDict()
        host.add_module(SLOT, slot)
        if isinstance(adapter, Adapter):
            host.register_forward_hook(_run_adapters)
    if name in slot:
        raise ConfigError(f"module already has an adapter named {name!r}; remove it first or pick another name")
    ref = next((p for p in host.parameters(recurse=False)), None)
    if ref is not None:
        adapter.to(device=ref.device, dtype=ref.dtype)
    slot[name] = adapter


def hosts(model: nn.Module, name: str | None = None) -> Iterator[tuple[str, nn.Module, str, nn.Module]]:
    """Yield ``(host_name, host, adapter_name, adapter)`` for every adapter on ``model`` (only ``name`` if given)."""
    for host_name, host in model.named_modules():
        slot = getattr(host, SLOT, None)
        if isinstance(slot, (nn.ModuleDict, nn.ParameterDict)):
            for key, adapter in slot.items():
                if name is None or key == name:
                    yield host_name, host, key, adapter


def adapter_names(model: nn.Module) -> list[str]:
    """Names of all adapters on ``model``, in the order first seen."""
    return list(dict.fromkeys(key for _, _, key, _ in hosts(model)))


def _require(model: nn.Module, name: str) -> list[tuple[str, nn.Module, str, nn.Module]]:
    found = list(hosts(model, name))
    if not found:
        raise ConfigError(f"model has no adapter named {name!r}; it has: {adapter_names(model) or 'none'}")
    return found


def set_active(model: nn.Module, name: str, active: bool = True) -> None:
    """Switch adapter ``name`` on or off everywhere on ``model`` (a merged adapter must be unmerged first)."""
    for host_name, _, _, adapter in _require(model, name):
        if isinstance(adapter, Adapter):
            if adapter.merged and not active:
                raise ConfigError(f"adapter {name!r} is merged into '{host_name}'; unmerge it before switching it off")
            adapter.active = active


def merge(model: nn.Module, name: str) -> None:
    """Fold adapter ``name`` into its hosts' weights, where the method allows it; others stay as they are."""
    for _, host, _, adapter in _require(model, name):
        if isinstance(adapter, Adapter) and adapter.mergeable and adapter.active and not adapter.merged:
            with torch.no_grad():
                adapter.merge_into(host)
            adapter.merged = True


def unmerge(model: nn.Module, name: str) -> None:
    """Take a merged adapter ``name`` back out of its hosts' weights."""
    for _, host, _, adapter in _require(model, name):
        if isinstance(adapter, Adapter) and adapter.merged:
            with torch.no_grad():
                adapter.unmerge_from(host)
            adapter.merged = False


def remove(model: nn.Module, name: str) -> None:
    """Delete adapter ``name`` from ``model`` (unmerging it first)."""
    unmerge(model, name)
    for _, host, _, _ in _require(model, name):
        del getattr(host, SLOT)[name]


def adapter_of(key: str) -> str | None:
    """Name of the adapter a parameter/state key belongs to, or None for a key of the base model."""
    parts = key.split(".")
    for i in range(len(parts) - 1):
        if parts[i] == SLOT:
            return parts[i + 1]
    return None


def is_adapter_key(key: str) -> bool:
    """True for a state-dict key that belongs to an adapter rather than to the base model."""
    return adapter_of(key) is not None


def adapter_parameters(model: nn.Module, name: str) -> dict[str, nn.Parameter]:
    """The parameters of adapter ``name``, keyed by their qualified names in ``model``."""
    return {k: p for k, p in model.named_parameters() if adapter_of(k) == name}


def adapter_state(model: nn.Module, name: str) -> dict[str, torch.Tensor]:
    """The state (parameters and persistent buffers) of adapter ``name``, keyed by qualified name."""
    return {k: v for k, v in model.state_dict().items() if adapter_of(k) == name}


def base_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The base model's own state (adapters left out), with its original key names."""
    return {k: v for k, v in model.state_dict().items() if not is_adapter_key(k)}


def effective_parameters(model: nn.Module) -> dict[str, torch.Tensor]:
    """Every base parameter as the model currently uses it: stored value plus active, unmerged mergeable deltas.

    This is what forgetting penalties compare with their anchor, so EWC or L2-SP work the same whether the
    base weights are fine-tuned in place or changed through (unmerged) LoRA-type adapters.
    """
    values = {k: p for k, p in model.named_parameters() if not is_adapter_key(k)}
    for host_name, host, _, adapter in hosts(model):
        if isinstance(adapter, Adapter) and adapter.active and adapter.mergeable and not adapter.merged:
            for key, delta in adapter.deltas(host).items():
                name = f"{host_name}.{key}" if host_name else key
                values[name] = values[name] + delta
    return values


@contextlib.contextmanager
def adapter_context(**tensors: Any) -> Iterator[None]:
    """Make named tensors (gate masks, conditions ...) visible to adapters for the duration of a forward pass."""
    token = _CONTEXT.set({**(_CONTEXT.get() or {}), **tensors})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def context_value(key: str, needed_by: str) -> Any:
    """Read ``key`` from the adapter context, with an error that says how to provide it."""
    ctx = _CONTEXT.get() or {}
    if key not in ctx:
        raise ConfigError(
            f"{needed_by} needs '{key}' in the adapter context; run the model inside "
            f"`with scisft.adapter_context({key}=...)`"
        )
    return ctx[key]


METHODS: dict[str, type] = {}


class MethodConfig:
    """Base of every method's config dataclass: ``build(host)`` makes the adapter, ``attach`` puts it on."""

    method = "adapter"

    def build(self, host: nn.Module) -> Adapter:
        raise NotImplementedError

    def attach(self, host: nn.Module, name: str) -> None:
        attach(host, name, self.build(host))


def register_method(name: str):
    """Class decorator: register a ``MethodConfig`` dataclass under ``name`` so manifests can rebuild it.

    ``build(host)`` raises ``ConfigError`` for a host the method cannot adapt.
    """

    def wrap(cls: type) -> type:
        cls.method = name
        METHODS[name] = cls
        return cls

    return wrap


def config_from_dict(method: str, values: dict[str, Any]) -> Any:
    """Rebuild a registered method's config from its manifest entry."""
    if method not in METHODS:
        raise ConfigError(
            f"unknown adapter method {method!r}; known: {sorted(METHODS)} "
            "(a plugin's methods are registered when the plugin is imported)"
        )
    try:
        return METHODS[method](**values)
    except TypeError as exc:
        raise ConfigError(f"config for adapter method {method!r} does not fit: {exc}") from None


def add_on_rows(output: torch.Tensor, x: torch.Tensor, delta, mask_key: str | None, who: str) -> torch.Tensor:
    """``output + delta(x)``, or, with ``mask_key``, only on the rows the context's mask selects.

    A boolean mask selects rows; a floating-point mask weighs them (``output + w * delta(x)`` on rows with
    ``w > 0``), which lets a gate fade smoothly, e.g. with distance. Rows the mask leaves out (False or 0) are
    returned untouched (bit for bit), and ``delta`` never sees them; a mask with no row selected returns ``output``
    itself. The mask has the shape of ``output`` without its last dimension.
    """
    if mask_key is None:
        return output + delta(x)
    mask = context_value(mask_key, who)
    if mask.shape != output.shape[:-1]:
        raise ConfigError(
            f"{who}: mask '{mask_key}' has shape {tuple(mask.shape)}, expected {tuple(output.shape[:-1])} "
            "(one entry per row of the adapted module's output)"
        )
    flat_mask = mask.reshape(-1)
    rows = flat_mask.nonzero().squeeze(1)
    if rows.numel() == 0:
        return output
    flat_out = output.reshape(-1, output.shape[-1])
    change = delta(x.reshape(-1, x.shape[-1])[rows])
    if flat_mask.is_floating_point():
        change = flat_mask[rows].unsqueeze(-1).to(change.dtype) * change
    return flat_out.index_add(0, rows, change).reshape(output.shape)
