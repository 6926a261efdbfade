"""Ordered key-value engines behind one small interface (``base.Reader`` / ``base.Engine``).

Engines are plugins found by name in ``ENGINES`` and imported only when opened, so the package
does not import every backend's client library, and adding an engine means one module here plus
one subclass of ``dvid.storage.testing.EngineContract`` in ``tests/``.
"""

from __future__ import annotations

import importlib
from typing import Any

from dvid.storage.base import Engine, Reader, StorageError

#: engine name -> "module:factory"; the factory takes the store's config options as keywords.
ENGINES: dict[str, str] = {
    "lmdb": "dvid.storage.lmdb:LMDBEngine.from_options",
    "memory": "dvid.storage.memory:MemoryEngine.from_options",
    "s3": "dvid.storage.s3:S3Engine.from_options",
}


def available() -> list[str]:
    """Names of the engines that ``open_engine`` accepts, the default (``lmdb``) first."""
    return list(ENGINES)


def open_engine(engine: str, options: dict[str, Any]) -> Engine:
    """Open a store from its config section (``[store.<alias>]`` with ``engine = ...``)."""
    target = ENGINES.get(engine.lower())
    if target is None:
        raise StorageError(f"unknown storage engine {engine!r} (available: {', '.join(available())})")
    module, _, attr = target.partition(":")
    factory: Any = importlib.import_module(module)
    for part in attr.split("."):
        factory = getattr(factory, part)
    return factory(**{k: v for k, v in options.items() if k != "engine"})


__all__ = ["ENGINES", "Engine", "Reader", "StorageError", "available", "open_engine"]
