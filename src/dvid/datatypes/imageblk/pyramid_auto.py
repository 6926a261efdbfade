"""Keeping a pyramid current in the background (``pyramid auto=true``).

A write to level 0 only notes "(instance, version) changed" in this process's scheduler, an O(1)
dictionary update, so the write itself is not slowed. One daemon thread per process runs an
incremental update once a version has been quiet for the pyramid's ``debounce`` seconds. Worker
processes share the store, not memory, so the update takes the version's pyramid lease first: if
another process holds it, this one looks again a debounce later (the holder may have started
before our write, and our write's change record stays pending until someone processes it).
Committed versions are left alone (their children inherit the pending records and catch up).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from dvid.datatypes.base import InstanceContext
from dvid.datatypes.imageblk import changes
from dvid.datatypes.imageblk import pyramid as pyr

if TYPE_CHECKING:
    from dvid.datatypes.imageblk.types import ImageBlkType

log = logging.getLogger("dvid.pyramid")
_MAX_ROUNDS = 5  # updates in a row while writes keep arriving, before yielding to the scheduler


class _Scheduler:
    def __init__(self) -> None:
        self._due: dict[tuple[int, int], tuple[float, ImageBlkType, InstanceContext]] = {}
        self._cv = threading.Condition()
        self._thread: threading.Thread | None = None

    def notify(self, dt: ImageBlkType, ctx: InstanceContext, delay: float) -> None:
        key = (ctx.instance.instance_id, ctx.version)
        with self._cv:
            self._due[key] = (time.monotonic() + delay, dt, ctx)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="pyramid-auto", daemon=True)
                self._thread.start()
            self._cv.notify()

    def _loop(self) -> None:
        while True:
            with self._cv:
                while not self._due:
                    self._cv.wait()
                key, (when, dt, ctx) = min(self._due.items(), key=lambda kv: kv[1][0])
                wait = when - time.monotonic()
                if wait > 0:
                    self._cv.wait(wait)
                    continue
                del self._due[key]
            try:
                self._update(dt, ctx)
            except Exception:  # a background update must never take the worker down
                log.exception("automatic pyramid update of instance %s failed", ctx.instance.name)

    def _update(self, dt: ImageBlkType, ctx: InstanceContext) -> None:
        ctx = ctx.refreshed()
        cfg = pyr.config_of(ctx.instance)
        if cfg is None or not cfg.auto or ctx.locked:
            return
        for _ in range(_MAX_ROUNDS):
            lease = pyr.lease_for(ctx)
            if not lease.acquire():
                self.notify(dt, ctx, max(cfg.debounce, 0.2))  # the holder may have started before our write
                return
            try:
                res = pyr.update(dt, ctx, cfg, lease=lease)  # releases the lease in its last commit
            finally:
                lease.release()
            log.info("pyramid of %s @ %s updated in %.2f s: %s", ctx.instance.name, ctx.uuid, res.seconds, res.text())
            if changes.count_pending(ctx.view)[0] == 0:
                return
        self.notify(dt, ctx, cfg.debounce)


_SCHEDULER = _Scheduler()


def after_write(dt: ImageBlkType, ctx: InstanceContext) -> None:
    """Call after a successful write to an instance; schedules its pyramid's update if it has
    ``auto`` set."""
    cfg = ctx.instance.props.get("Pyramid")
    if cfg and cfg.get("auto"):
        _SCHEDULER.notify(dt, ctx, float(cfg.get("debounce", 1.0)))
