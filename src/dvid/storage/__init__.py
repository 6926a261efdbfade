"""Ordered key-value engines behind one small interface (see base.py)."""

from dvid.storage.base import Engine, StorageError, open_engine

__all__ = ["Engine", "StorageError", "open_engine"]
