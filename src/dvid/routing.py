"""Route tables: method + path template -> handler with typed arguments (Starlette's idea, DVID's
``server/web.go`` table).

A template is a ``/``-separated list of literal segments and parameters, optional trailing ones in
brackets: ``raw/{shape:plane}/{box:slice}[/{format:image}]``. ``{name}`` hands the handler the
segment as text; ``{name:conv}`` hands it what the named converter makes of one or more segments
(a ``Box``, axes, an image format...). A converter raises ``BadRequest`` with DVID's text for a bad
value, or ``NoMatch`` for "not this route" (a 3-d shape on a 2-d route), and the next route is tried.

A route also says what the server must know before it runs the handler: whether the handler
takes the body while it still arrives (``streams_body``), honours ``throttle=true``
(``throttleable``), changes data (``writes``: refused on committed nodes; by default POST, PUT
and DELETE do, as in DVID), and is ``quick``: its work is so small (a few dict lookups, one or a
few key reads of a local store) that the server runs it on its event loop instead of handing it to
a worker thread, whose round trip costs more than such a request itself. Method ``*`` is a route for every method the path has no route for,
and GET routes also answer HEAD. The first segment is a dict lookup, so matching costs a few
comparisons whatever the table's size.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dvid.errors import BadRequest


class NoMatch(Exception):
    """Raised by a converter: this route does not apply; try the next one."""


class Unmatched(Exception):
    """No route of the table has this first segment (or a segment count it accepts)."""


class MethodNotAllowed(Exception):
    """Routes exist for this path, none for this method."""


@dataclass(frozen=True)
class Converter:
    """Turns ``arity`` path segments (and the parameters converted before) into a typed value."""

    parse: Callable[[Sequence[str], Mapping[str, Any]], Any]
    arity: int = 1


_PARAM = re.compile(r"^\{(\w+)(?::(\w+))?\}$")


@dataclass(frozen=True)
class _Piece:
    literal: str | None  # a literal segment, or None for a parameter
    name: str = ""
    converter: Converter | None = None
    optional: bool = False

    @property
    def arity(self) -> int:
        return self.converter.arity if self.converter is not None else 1


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: Callable[..., Any]
    #: the handler may start on a large body while it still arrives (``Request.arriving``)
    streams_body: bool = False
    #: ``throttle=true|on`` makes the handler run holding a server-wide throttle slot
    throttleable: bool = False
    #: the handler changes data, refused on committed nodes (None: POST, PUT and DELETE do)
    writes: bool | None = None
    #: the handler's work is tiny: True, or a predicate ``quick(call, params)`` asked after the
    #: arguments are converted (e.g. "at most a few blocks"); see ``is_quick``
    quick: bool | Callable[[Any, Mapping[str, Any]], bool] = False
    pieces: tuple[_Piece, ...] = field(default=(), compare=False, repr=False)

    @property
    def first(self) -> str:
        return self.template.split("/", 1)[0]

    def changes_data(self, method: str) -> bool:
        return self.writes if self.writes is not None else method in ("POST", "PUT", "DELETE")

    def is_quick(self, call: Any, params: Mapping[str, Any]) -> bool:
        """Whether this request of the route may run on the server's event loop."""
        q = self.quick
        return q(call, params) if callable(q) else q

    def compiled(self, converters: Mapping[str, Converter]) -> Route:
        pieces: list[_Piece] = []
        optional = False
        for seg in self.template.replace("[/", "/[").split("/"):
            if seg.startswith("["):
                optional, seg = True, seg[1:]
            seg = seg.rstrip("]")
            m = _PARAM.match(seg)
            if m is None:
                pieces.append(_Piece(seg, optional=optional))
            else:
                conv = converters[m.group(2)] if m.group(2) else None
                pieces.append(_Piece(None, m.group(1), conv, optional))
        return Route(self.method, self.template, self.handler, self.streams_body, self.throttleable, self.writes,
                     self.quick, tuple(pieces))

    @property
    def required(self) -> int:
        """Segments a path needs at least to match."""
        return sum(p.arity for p in self.pieces if not p.optional)

    def bind(self, parts: Sequence[str]) -> dict[str, Any]:
        """The handler's keyword arguments from ``parts``; raises NoMatch or BadRequest."""
        params: dict[str, Any] = {}
        i = 0
        for p in self.pieces:
            if i + p.arity > len(parts):
                if p.optional:
                    if p.literal is None:
                        params[p.name] = p.converter.parse([""] * p.arity, params) if p.converter else ""
                    continue
                raise NoMatch
            segs = parts[i : i + p.arity]
            i += p.arity
            if p.literal is not None:
                if segs[0] != p.literal:
                    raise NoMatch
            elif p.converter is not None:
                params[p.name] = p.converter.parse(segs, params)
            elif segs[0] or p.optional:  # a text parameter is never empty (goji's :name)
                params[p.name] = segs[0]
            else:
                raise NoMatch
        return params


@dataclass
class Match:
    route: Route
    params: dict[str, Any]


class Router:
    """A table of routes. ``exact``: a path must use exactly the route's segments (core routes, as
    goji); otherwise extra trailing segments are ignored (datatype endpoints, as DVID)."""

    def __init__(self, routes: Sequence[Route], converters: Mapping[str, Converter] | None = None,
                 *, usage: Mapping[str, str] | None = None, exact: bool = False) -> None:
        self.exact = exact
        self.usage = dict(usage or {})
        self._by_first: dict[str, list[Route]] = {}
        for r in routes:
            self._by_first.setdefault(r.first, []).append(r.compiled(converters or {}))

    @property
    def routes(self) -> list[Route]:
        return [r for rs in self._by_first.values() for r in rs]

    def candidates(self, method: str, first: str) -> list[Route]:
        """Routes for this first segment and method: its own, else (HEAD) the GET ones, else ``*``."""
        routes = self._by_first.get(first)
        if routes is None:
            raise Unmatched
        for want in (method, "GET" if method == "HEAD" else None, "*"):
            found = [r for r in routes if r.method == want]
            if found:
                return found
        raise MethodNotAllowed

    def streams_body(self, method: str, first: str) -> bool:
        """Whether a request for ``first`` may be handed its body while it still arrives."""
        try:
            return any(r.streams_body for r in self.candidates(method, first))
        except (Unmatched, MethodNotAllowed):
            return False

    def writes(self, method: str, first: str) -> bool:
        """Whether a request for ``first`` would change data (decided before its arguments are
        parsed, so a committed node refuses a malformed write as it refuses any write)."""
        try:
            return any(r.changes_data(method) for r in self.candidates(method, first))
        except (Unmatched, MethodNotAllowed):
            return method in ("POST", "PUT", "DELETE")

    def match(self, method: str, parts: Sequence[str]) -> Match:
        short = False
        for route in self.candidates(method, parts[0] if parts else ""):
            if len(parts) < route.required:
                short = True
                continue
            if self.exact and len(parts) > sum(p.arity for p in route.pieces):
                continue
            try:
                return Match(route, route.bind(parts))
            except NoMatch:
                continue
        if short and parts[0] in self.usage:
            raise BadRequest(self.usage[parts[0]])
        raise Unmatched
