"""The datatype plugin contract.

A datatype (``uint8blk``, ``roi``...) registers a ``DataType`` object in ``dvid.datatypes.registry``.
The server resolves the UUID and instance name, checks locks (asking the datatype's routes whether
the request writes), and hands the datatype a parsed, framework-free ``Request`` plus an
``InstanceContext`` (versioned view, helpers). The datatype's route table picks the handler and
converts its arguments; the handler returns a ``Response``. Errors are raised as
``dvid.errors.BadRequest`` (or a subclass) / ``Throttled``.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from dvid.errors import BadRequest
from dvid.routing import MethodNotAllowed, Route, Router, Unmatched

if TYPE_CHECKING:
    from dvid.datastore.instance import Instance
    from dvid.datastore.jobs import Job
    from dvid.datastore.view import VersionedView
    from dvid.limits import Limits


class ArrivingBody(Protocol):
    """A request body being received while its handler runs (server/http.py ``IncomingBody``)."""

    #: the body's length (its Content-Length)
    size: int
    #: the whole body's buffer; only the part ``wait`` has returned is valid yet
    buffer: memoryview

    def wait(self, n: int) -> memoryview:
        """The first ``n`` bytes, once they have arrived; raises BadRequest if the body ends short,
        runs long or stops arriving (nothing may be written from such a request)."""
        ...


@dataclass
class Request:
    """One HTTP request as a datatype sees it.

    ``parts`` is the URL path after ``/api/`` split on ``/`` with one trailing empty element dropped:
    ``["node", uuid, dataname, keyword, *args]``. ``query`` keeps the first value of each parameter.
    ``body`` is the whole request body (already read, possibly a memoryview).
    """

    method: str
    path: str
    parts: list[str]
    query: dict[str, str] = field(default_factory=dict)
    body: bytes | bytearray | memoryview = b""
    #: set instead of ``body`` for a large upload still arriving, when ``DataType.streams_body``
    #: asked for it: the handler may start on the first bytes while the rest is received
    arriving: ArrivingBody | None = None

    @property
    def keyword(self) -> str:
        return self.parts[3] if len(self.parts) > 3 else ""

    @property
    def args(self) -> list[str]:
        return self.parts[4:]


@dataclass
class Response:
    """What a handler returns. ``stream`` (an iterator of byte chunks) replaces ``body`` for large
    streamed answers, produced off the event loop while earlier chunks are sent; the server sends
    ``body`` with no copy otherwise."""

    body: bytes | bytearray | memoryview = b""
    status: int = 200
    content_type: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    stream: Iterator[bytes | memoryview] | None = None
    #: byte length of ``stream`` when known in advance (sent as Content-Length instead of chunked)
    length: int | None = None

    @classmethod
    def json(cls, text: str | bytes) -> Response:
        return cls(text.encode() if isinstance(text, str) else text, content_type="application/json")

    @classmethod
    def text(cls, text: str) -> Response:
        return cls(text.encode(), content_type="text/plain")



class Volume(Protocol):
    """A read-only precomputed volume (GridStore, ``storage/precomputed.py``), as a datatype sees it."""

    chunk: tuple[int, int, int]
    offset: tuple[int, int, int]
    size: tuple[int, int, int]
    encoding: str
    resolution: list[float]
    dtype: str
    channels: int
    #: how many scales the whole volume has
    scales: int


class Environment(Protocol):
    """What the server offers every datatype beyond one request: configured GridStore volumes."""

    def volume(self, alias: str, level: int) -> Volume:
        """Scale ``level`` of the ``[store.<alias>] engine = "ngprecomputed"`` volume; BadRequest if
        no such store is configured or it cannot be opened."""
        ...


class InstanceContext(Protocol):
    """What the server gives a datatype handler for one request (or one CLI command)."""

    instance: Instance
    #: full UUID of the node the request addressed (after prefix/branch resolution)
    uuid: str
    #: VersionID whose data the request sees (the repo root for unversioned instances)
    version: int
    #: the versioned view of this instance at ``version``
    view: VersionedView
    #: "host:port" of this server, for help texts and error messages
    host: str
    #: the server's bounds on one request's work (``dvid.limits``)
    limits: Limits

    def cached(self, key: Any, make: Callable[[], Any]) -> Any:
        """A value derived from the current metadata (a layout, a voxel source), made once per
        metadata generation and process: repeated requests skip rebuilding it."""
        ...

    def other_instance(self, name: str, typename: str | None = None) -> tuple[Instance, VersionedView]:
        """Another instance of the same repo by name, viewed at the same node (e.g. an ``roi``).
        Raises ``UnknownInstance`` if there is none, ``WrongType`` if ``typename`` is given and
        it is of another type (both 400s with DVID's texts)."""
        ...

    def create_instance(self, typename: str, name: str, settings: dict[str, Any]) -> Instance:
        """Create a new instance in this repo at this node (used by the foreground-ROI command)."""
        ...

    def save_instance(self, instance: Instance | None = None) -> None:
        """Persist changes the handler made to ``instance.props`` (e.g. VoxelSize, ROI MinZ/MaxZ);
        another instance of the repo (from ``other_instance``) may be given instead."""
        ...

    def throttle(self) -> AbstractContextManager[None]:
        """Hold one server-wide throttle slot for the ``with`` body; raises Throttled when full."""
        ...

    def master_leaf_view(self) -> VersionedView | None:
        """The view at the master branch leaf, used for the info JSON inside repo info."""
        ...

    def log_to_node(self, message: str) -> None:
        """Append a line to the node's log (commands like ``load`` do this)."""
        ...

    @property
    def locked(self) -> bool:
        """Whether the node is committed (its data cannot change)."""
        ...

    def refreshed(self) -> InstanceContext:
        """The same node and instance as the store says they are now (for background work that
        starts later than the request that scheduled it)."""
        ...

    def start_job(self, command: str, work: Callable[[Job], str | None]) -> Job:
        """Run ``work(job)`` in the background as a recorded job (``dvid.datastore.jobs``) and return
        at once; the command replies with the job id and the CLI polls the job's progress."""
        ...


#: settings every instance takes, parsed by the datastore (core.md §1.3); ``sync`` is sent by intern
GENERIC_SETTINGS = ("typename", "dataname", "versioned", "Compression", "Checksum", "Tags", "sync")


@dataclass
class Call:
    """What a handler of a route table is given: the datatype, the instance context, the request
    (datatypes extend it with what their handlers share, e.g. imageblk's voxel source)."""

    dt: DataType
    ctx: InstanceContext
    req: Request


@dataclass
class Planned:
    """A request that has been routed and checked, ready to run: ``run()`` answers it. ``quick``
    says the work is tiny (``Route.quick``), so the server may run it on its event loop."""

    run: Callable[[], Response]
    quick: bool = False


class DataType(abc.ABC):
    """One registered datatype. Instances of it are described by ``dvid.datastore.instance.Instance``
    whose ``props`` dict holds this type's own (JSON-serialisable) properties.

    Requests are served from ``routes`` (``dvid.routing``): the matched route says whether the
    request writes (refused on committed nodes), may take its body while it arrives, and honours
    ``throttle=true``; its handler is called as ``handler(call, **params)``.
    """

    name: str
    url: str
    version: str
    #: the type's own creation settings (canonical spelling); anything else a client sends beyond
    #: ``GENERIC_SETTINGS`` is accepted but reported as ignored, with the closest known name
    settings: tuple[str, ...] = ()


    routes: Router
    env: Environment | None = None

    def configure(self, env: Environment) -> None:
        """Called once per server process before it serves: what the server offers datatypes."""
        self.env = env

    @abc.abstractmethod
    def help(self) -> str:
        """Plain-text help for ``GET /api/help/<type>`` and ``.../<name>/help``."""

    @abc.abstractmethod
    def init_props(self, settings: dict[str, Any]) -> dict[str, Any]:
        """Parse creation settings (keys already lower-cased; values as given in JSON or CLI) into
        this type's props. Raise BadRequest with DVID's message on bad settings. The generic settings
        (typename, dataname, versioned, compression, checksum, tags, sync) are parsed by the
        datastore, but are still present in ``settings``."""

    @abc.abstractmethod
    def info(self, instance: Instance, view: VersionedView | None) -> dict[str, Any]:
        """The instance JSON (``{"Base": ..., "Extended": ..., ...}``) with extents as seen by
        ``view`` (None when no version view is available)."""

    def is_mutation(self, method: str, keyword: str) -> bool:
        """Whether the request changes data (refused on locked nodes), from its routes."""
        return self.routes.writes(method.upper(), keyword)

    def streams_body(self, method: str, keyword: str) -> bool:
        """Whether this endpoint takes a large upload as ``Request.arriving`` (processing the first
        bytes while the rest arrives) instead of a complete ``body``, from its routes."""
        return self.routes.streams_body(method.upper(), keyword)

    def before(self, ctx: InstanceContext, req: Request) -> None:
        """Checks every request of this type passes before its route is matched."""
        return None

    def make_call(self, ctx: InstanceContext, req: Request, route: Route) -> Call:
        """The object the matched route's handler is given."""
        return Call(self, ctx, req)

    def plan(self, ctx: InstanceContext, req: Request) -> Planned:
        """Match one instance request against ``routes`` and bind its handler, without running it
        (bad arguments are refused here). A request under ``throttle=true`` is never quick: it may
        wait for a slot."""
        self.before(ctx, req)
        try:
            match = self.routes.match(req.method, [req.keyword, *req.args])
        except (Unmatched, MethodNotAllowed):
            raise BadRequest(f'Bad API call ({req.path}) for data "{ctx.instance.name}".  '
                             f"See API help at http://{ctx.host}/api/help/{self.name}") from None
        route, params = match.route, match.params
        call = self.make_call(ctx, req, route)
        if route.throttleable and req.query.get("throttle") in ("true", "on"):
            def throttled() -> Response:
                with ctx.throttle():
                    return route.handler(call, **params)
            return Planned(throttled)
        return Planned(lambda: route.handler(call, **params), route.is_quick(call, params))

    def handle(self, ctx: InstanceContext, req: Request) -> Response:
        """Serve one instance request from ``routes``."""
        return self.plan(ctx, req).run()

    def command(self, ctx: InstanceContext, args: list[str], settings: dict[str, str]) -> str:
        """A CLI ``dvid node <uuid> <name> <args...>`` command; returns the reply text."""
        cmd = args[0] if args else ""
        raise BadRequest(f"Unknown command.  Data '{ctx.instance.name}' [{self.name}] does not support '{cmd}' command.")
