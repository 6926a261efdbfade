"""Per-process server state: the open store, the datastore, jobs, throttle and load counters.

Every worker process (and the main process that serves commands) builds one ``ServerState``.
LMDB refuses to open one environment twice in a process, so engines are cached per location.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from typing import Any

from dvid.datastore.jobs import JobStore
from dvid.datastore.manager import Datastore
from dvid.datatypes import registry
from dvid.errors import BadRequest
from dvid.server.config import Config
from dvid.server.stores import StoreAssignment
from dvid.server.throttle import Throttle
from dvid.storage import Engine, StorageError, open_engine
from dvid.storage.precomputed import PrecomputedVolume, open_volume

_ENGINES: dict[tuple[str, str], Engine] = {}
_ENGINES_LOCK = threading.Lock()


def open_engines() -> list[Engine]:
    """Every engine this process has opened."""
    with _ENGINES_LOCK:
        return list(_ENGINES.values())


def shared_engine(engine: str, options: dict[str, Any]) -> Engine:
    key = (engine, repr(sorted(options.items())))
    with _ENGINES_LOCK:
        eng = _ENGINES.get(key)
        if eng is None:
            eng = _ENGINES[key] = open_engine(engine, options)
        return eng


class LoadCounters:
    """Requests per second over the last second, for ``/api/load``."""

    def __init__(self) -> None:
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self.active = 0

    def hit(self, kind: str) -> None:
        now = time.monotonic()
        with self._lock:
            q = self._events.setdefault(kind, deque())
            q.append(now)
            while q and now - q[0] > 1.0:
                q.popleft()

    def rate(self, kind: str) -> int:
        now = time.monotonic()
        with self._lock:
            q = self._events.get(kind, deque())
            return sum(1 for t in q if now - t <= 1.0)


class ServerState:
    def __init__(self, config: Config, *, startup: bool = False) -> None:
        self.config = config
        sc = config.store()
        self.store = shared_engine(sc.engine, sc.options)
        for dt in registry.all_types().values():
            dt.configure(self)
        meta = None
        if config.metadata_store and config.metadata_store != sc.alias:
            mc = config.store(config.metadata_store)
            meta = shared_engine(mc.engine, mc.options)
        self.stores = StoreAssignment(config, lambda alias: shared_engine(config.store(alias).engine,
                                                                          config.store(alias).options))
        self.datastore = Datastore(
            self.store,
            registry.all_types(),
            instance_id_gen=config.instance_id_gen,
            instance_id_start=config.instance_id_start,
            min_mutation_id_start=config.min_mutation_id_start,
            metadata_store=meta,
            startup=startup,
            store_for=self.stores.engine_for,
        )
        #: metadata and the default store are read on this machine: a request may be planned (and a
        #: quick one answered) on the event loop (``app.py``)
        self.local = self.store.local and self.datastore.meta.local
        self.jobs = JobStore(self.datastore.meta)
        self.throttle = Throttle(config.run_dir or os.path.join(sc.options.get("path", "/tmp"), ".throttle"),
                                 lambda: int(self.datastore.get_setting("throttle", 1)))
        self.load = LoadCounters()
        self.started = time.time()
        self.latencies: dict[str, dict[str, Any]] = {}

    @property
    def readonly(self) -> bool:
        return self.config.rw_mode == "readonly"

    @property
    def fullwrite(self) -> bool:
        return self.config.rw_mode == "fullwrite"

    def volume(self, alias: str, level: int) -> PrecomputedVolume:
        """A configured GridStore volume's scale (``Environment.volume`` for the datatypes)."""
        sc = self.config.stores.get(alias)
        if sc is None or sc.engine != "ngprecomputed":
            raise BadRequest(f'GridStore "{alias}" is not a configured ngprecomputed store on this server')
        try:
            return open_volume(str(sc.options["ref"]), level)
        except StorageError as e:
            raise BadRequest(f'GridStore "{alias}" {e}') from None

    def host(self) -> str:
        host = self.config.host or "localhost"
        port = self.config.http_address.rsplit(":", 1)[-1]
        return f"{host}:{port}"
