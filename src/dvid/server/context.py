"""The ``InstanceContext`` the server hands a datatype for one request or one CLI command."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from dvid.datastore.instance import Instance
from dvid.datastore.jobs import Job
from dvid.datastore.model import NodeRef
from dvid.datastore.view import VersionedView
from dvid.errors import BadRequest, UnknownInstance, WrongType
from dvid.server.state import ServerState


class ServerContext:
    def __init__(self, st: ServerState, ref: NodeRef, instance: Instance) -> None:
        self._st = st
        self.ref = ref
        self.instance = instance
        self.uuid = ref.uuid
        self.view: VersionedView = st.datastore.view(ref, instance)
        self.version = self.view.version
        self.host = st.host()
        self.limits = st.config.limits
        self.last_job: Job | None = None

    def cached(self, key: Any, make: Callable[[], Any]) -> Any:
        return self._st.datastore.cached(key, make)

    @property
    def locked(self) -> bool:
        return self.ref.node.locked

    def refreshed(self) -> ServerContext:
        ds = self._st.datastore
        ds.refresh()
        ref = ds.resolve(self.uuid)
        return ServerContext(self._st, ref, ds.instance(ref, self.instance.name))

    def other_instance(self, name: str, typename: str | None = None) -> tuple[Instance, VersionedView]:
        what = typename.upper() if typename else "data instance"
        try:
            inst = self._st.datastore.instance(self.ref, name)
        except BadRequest:
            raise UnknownInstance(f'Can\'t get {what} with name "{name}": invalid data instance name') from None
        if typename is not None and inst.typename != typename:
            raise WrongType(f'Data name "{name}" was not of {typename} data type')
        return inst, self._st.datastore.view(self.ref, inst)

    def create_instance(self, typename: str, name: str, settings: dict[str, Any]) -> Instance:
        return self._st.datastore.new_instance(self.ref, typename, name, settings, check_lock=False)

    def save_instance(self, instance: Instance | None = None) -> None:
        self._st.datastore.update_instance(self.ref, instance or self.instance)

    @contextmanager
    def throttle(self) -> Iterator[None]:
        with self._st.throttle.slot():
            yield

    def master_leaf_view(self) -> VersionedView | None:
        leaf = self._st.datastore.master_leaf(self.ref.repo)
        if leaf is None:
            return None
        return self._st.datastore.view(NodeRef(self.ref.repo, leaf), self.instance)

    def log_to_node(self, message: str) -> None:
        self._st.datastore.append_node_log(self.ref, [message])

    def start_job(self, command: str, work: Callable[[Job], str | None]) -> Job:
        job = self._st.jobs.create(command, node=self.uuid, instance=self.instance.name)
        self._st.jobs.start(job, work)
        self.last_job = job  # the command channel reports it so the CLI can follow progress
        return job
