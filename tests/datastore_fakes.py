"""What the datastore tests share: a stand-in datatype (the datastore never imports real ones) and
a way to run one function in several processes at once on one store."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Sequence

from dvid.errors import BadRequest


class FakeType:
    """A datatype with the duck-typed surface ``Datastore`` uses; rejects a setting named "bad"."""

    url = "test/fake"
    version = "0.1"

    def init_props(self, settings):
        if "bad" in settings:
            raise BadRequest("fake type rejects 'bad'")
        return {"Echo": settings.get("echo", "")}

    def info(self, instance, view):
        return {"Base": instance.base_json(self.url, self.version), "Extended": dict(instance.props)}


TYPES = {"faketype": FakeType()}


def run_in_processes(target: Callable[..., None], argsets: Sequence[tuple], timeout: float = 120) -> None:
    """Start ``target(*args)`` for every args tuple in its own (spawned) process, all at once, and
    wait for all of them to exit cleanly."""
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=target, args=args) for args in argsets]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout)
        assert p.exitcode == 0
