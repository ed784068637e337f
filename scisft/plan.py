"""A declarative adaptation plan: which modules get which method; everything else is frozen.

    plan = Plan([Rule("encoder.*", LoRAConfig(rank=8), types=(nn.Linear,))], train=["head.bias"])
    report = plan.apply(model, adapter="mouse")
    print(report)            # trainable parameters: total, fraction of the base, per module

Patterns are shell-style (``fnmatch``) over qualified module names (``model.named_modules()``); a rule may also
require module types. The first rule that matches a module wins. A rule that matches nothing is an error that lists
the modules it could have matched. ``train`` lists parameter-name patterns that stay trainable as they are (e.g.
``["*"]`` for full fine-tuning, or a per-element energy shift); those are changes to the base model itself, saved
with the model, not with the adapter.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

from torch import nn

from scisft.adapters.base import SLOT, MethodConfig, adapter_parameters, is_adapter_key
from scisft.errors import ConfigError


@dataclass
class Rule:
    """Give every module whose name matches ``pattern`` (and whose type is in ``types``, if given) ``method``."""

    pattern: str
    method: MethodConfig
    types: tuple[type, ...] = ()

    def matches(self, name: str, module: nn.Module) -> bool:
        return fnmatch.fnmatchcase(name, self.pattern) and (not self.types or isinstance(module, self.types))


@dataclass
class TrainableReport:
    """How many parameters train, of how many in the base model, and where."""

    base_parameters: int
    trainable: int
    per_module: list[tuple[str, int]]

    @property
    def fraction(self) -> float:
        return self.trainable / max(self.base_parameters, 1)

    def to_dict(self) -> dict:
        return {
            "base_parameters": self.base_parameters,
            "trainable": self.trainable,
            "fraction": self.fraction,
            "per_module": dict(self.per_module),
        }

    def __str__(self) -> str:
        width = max([len(n) for n, _ in self.per_module] + [6])
        lines = [f"{'module':<{width}}  trainable"]
        lines += [f"{n:<{width}}  {c:>9,}" for n, c in self.per_module]
        lines.append(
            f"total: {self.trainable:,} trainable of {self.base_parameters:,} base parameters "
            f"({100 * self.fraction:.2f}%)"
        )
        return "\n".join(lines)


def _owner(key: str) -> str:
    """Module a parameter belongs to for reporting: an adapter's host, or the parameter's own module."""
    marker = f".{SLOT}."
    if marker in key:
        return key.split(marker)[0]
    return key.rsplit(".", 1)[0] if "." in key else "(model)"


def trainable_report(model: nn.Module) -> TrainableReport:
    """Count trainable parameters of ``model`` against the base model's parameter count."""
    base = sum(p.numel() for k, p in model.named_parameters() if not is_adapter_key(k))
    per: dict[str, int] = {}
    for key, p in model.named_parameters():
        if p.requires_grad:
            per[_owner(key)] = per.get(_owner(key), 0) + p.numel()
    return TrainableReport(base, sum(per.values()), list(per.items()))


def _candidates(model: nn.Module, rule: Rule) -> list[str]:
    names = [
        n
        for n, m in model.named_modules()
        if n and SLOT not in n.split(".") and (not rule.types or isinstance(m, rule.types))
    ]
    shown = ", ".join(names[:40]) + (f" ... ({len(names)} in all)" if len(names) > 40 else "")
    return [shown or "none"]


@dataclass
class Plan:
    """Rules for adapters, plus parameter-name patterns that stay trainable in place."""

    rules: list[Rule] = field(default_factory=list)
    train: list[str] = field(default_factory=list)

    def apply(self, model: nn.Module, adapter: str) -> TrainableReport:
        """Attach adapter ``adapter`` per the rules, freeze everything else, and report what trains."""
        targets: list[tuple[nn.Module, MethodConfig]] = []
        taken: set[str] = set()
        for rule in self.rules:
            hits = [
                (n, m)
                for n, m in model.named_modules()
                if n not in taken and SLOT not in n.split(".") and rule.matches(n, m)
            ]
            if not hits:
                kind = f" of type {', '.join(t.__name__ for t in rule.types)}" if rule.types else ""
                raise ConfigError(
                    f"plan rule '{rule.pattern}'{kind} matches no module; candidates: {_candidates(model, rule)[0]}"
                )
            for n, m in hits:
                taken.add(n)
                targets.append((m, rule.method))
        for module, method in targets:
            method.attach(module, adapter)
        for p in model.parameters():
            p.requires_grad_(False)
        for p in adapter_parameters(model, adapter).values():
            p.requires_grad_(True)
        for pattern in self.train:
            hits = [p for k, p in model.named_parameters() if not is_adapter_key(k) and fnmatch.fnmatchcase(k, pattern)]
            if not hits:
                names = [k for k, _ in model.named_parameters() if not is_adapter_key(k)]
                raise ConfigError(f"plan 'train' pattern '{pattern}' matches no parameter; parameters: {names[:40]}")
            for p in hits:
                p.requires_grad_(True)
        return trainable_report(model)
