"""Provider adapters. Each module `receiver/adapters/<name>.py` defines `ADAPTER`."""

from __future__ import annotations

import functools
import importlib
import pkgutil

from receiver.adapters.base import Adapter

_NOT_ADAPTERS = {"base", "codes", "fields"}


def names() -> list[str]:
    """Every adapter name shipped in the package."""
    return sorted(
        m.name
        for m in pkgutil.iter_modules(__path__)
        if m.name not in _NOT_ADAPTERS and not m.name.startswith("_")
    )


@functools.cache
def get(name: str) -> Adapter:
    """The adapter called `name`; KeyError when there is none."""
    if name not in names():
        raise KeyError(name)
    module = importlib.import_module(f"receiver.adapters.{name}")
    adapter: Adapter = module.ADAPTER
    return adapter
