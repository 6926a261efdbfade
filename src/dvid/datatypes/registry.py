"""The datatypes compiled into this server, by type name."""

from __future__ import annotations

from dvid.datatypes.base import DataType

_TYPES: dict[str, DataType] = {}


def register(dt: DataType) -> DataType:
    _TYPES[dt.name] = dt
    return dt


def get(name: str) -> DataType | None:
    _load_builtin()
    return _TYPES.get(name)


def all_types() -> dict[str, DataType]:
    _load_builtin()
    return dict(sorted(_TYPES.items()))


_loaded = False


def _load_builtin() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    import importlib

    for mod in ("dvid.datatypes.imageblk", "dvid.datatypes.roi"):
        importlib.import_module(mod)
