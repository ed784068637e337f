"""Lazy package exports: a package names what it offers and where it lives; the module (and torch, e3nn, RDKit
behind it) is imported on first use. This keeps ``scisft --version``, ``--help`` and argument errors fast."""

from __future__ import annotations

import importlib
from collections.abc import Callable


def exports(package: dict, homes: dict[str, list[str]]) -> Callable[[str], object]:
    """A module ``__getattr__`` for the package whose ``globals()`` is ``package``: ``homes`` maps a module name to
    the names it exports. Adds them to the package's ``__all__``."""
    where = {name: module for module, names in homes.items() for name in names}
    package["__all__"] = [*package.get("__all__", []), *sorted(where)]

    def __getattr__(name: str):
        if name not in where:
            raise AttributeError(f"module {package['__name__']!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(where[name]), name)
        package[name] = value
        return value

    return __getattr__
