"""URL routing for ``/api/...``: route tables (``dvid.routing``) in the shape of DVID's
``server/web.go`` — server-level routes, then repo and node routes behind the middleware that
resolves ``<uuid>`` and applies the read-only and committed-node rules (core.md §0.1), then instance
routes, which belong to the instance's datatype. Core routes match exactly (goji): anything else,
or a known path with another method, is a 404.

``plan`` does all of that without running the handler, so the server can answer a quick request
(``Route.quick``: heartbeat, a node's status, one block of a local store) on its event loop and
hand everything else to a worker thread.
"""

from __future__ import annotations

from dvid.datastore.model import NodeRef
from dvid.datatypes import registry
from dvid.datatypes.base import Planned, Request, Response
from dvid.errors import BadRequest, DVIDError, NotFound
from dvid.routing import Match, MethodNotAllowed, Route, Router, Unmatched
from dvid.server import core_routes as core
from dvid.server.context import ServerContext
from dvid.server.http import HttpRequest
from dvid.server.state import ServerState

SERVER = Router([
    Route("GET", "help", core.help_page, quick=True),
    Route("GET", "help/{typename}", core.type_help, quick=True),
    Route("GET", "load", core.load, quick=True),
    Route("GET", "heartbeat", core.heartbeat, quick=True),
    Route("GET", "user-latencies", core.user_latencies),
    Route("GET", "server/info", core.server_info, quick=True),
    Route("GET", "server/note", core.server_note, quick=True),
    Route("GET", "server/types", core.server_types, quick=True),
    Route("GET", "server/compiled-types", core.compiled_types, quick=True),
    Route("GET", "server/jobs", core.jobs_list),
    Route("GET", "server/jobs/{job_id}", core.job_get, quick=True),
    Route("POST", "server/settings", core.server_settings),
    Route("POST", "repos", core.repos_post),
    Route("GET", "repos/info", core.repos_info),
], exact=True)

#: ``/api/repo/<uuid>/...``: handlers get the resolved node ref
REPO = Router([
    Route("GET", "info", core.repo_info_get),
    Route("POST", "info", core.repo_info_post),
    Route("POST", "instance", core.repo_new_instance),
    Route("GET", "log", core.repo_log_get),
    Route("POST", "log", core.repo_log_post),
    Route("POST", "merge", core.repo_merge),
    Route("POST", "resolve", core.repo_resolve),
    Route("GET", "branch-versions/{name}", core.branch_versions),
], exact=True)

#: ``/api/node/<uuid>/<action>``: handlers get the resolved node ref
NODE = Router([
    Route("GET", "note", core.node_note_get, quick=True),
    Route("POST", "note", core.node_note_post),
    Route("GET", "log", core.node_log_get),
    Route("POST", "log", core.node_log_post),
    Route("GET", "commit", core.node_status, quick=True),
    Route("GET", "status", core.node_status, quick=True),
    Route("POST", "commit", core.node_commit),
    Route("POST", "newversion", core.node_newversion),
    Route("POST", "branch", core.node_branch),
    Route("POST", "tag", core.node_tag),
], exact=True)
#: node actions that a committed node allows (they add children or tags, never change the node)
LOCK_EXEMPT = ("branch", "newversion", "tag")


def _exact(table: Router, method: str, parts: list[str]) -> Match:
    try:
        return table.match(method, parts)
    except (Unmatched, MethodNotAllowed):
        raise NotFound("") from None


def _core(m: Match, *args: object) -> Planned:
    handler, params = m.route.handler, m.params
    return Planned(lambda: handler(*args, **params), m.route.quick is True)


def plan(st: ServerState, req: HttpRequest) -> Planned:
    """Route one request and bind its handler. An upload still arriving (``req.arriving``) is only
    left so for an instance route that streams its body (``streams_upload`` decided so before
    reading it)."""
    if not req.path.startswith("/api/"):
        raise NotFound("")
    parts = req.path[5:].split("/")
    head = parts[0]
    if head == "repo" and len(parts) >= 2 and parts[1]:
        req.whole_body()
        return _repo_route(st, req, parts)
    if head == "node" and len(parts) >= 3 and parts[1] and parts[2]:
        return _node_route(st, req, parts)
    req.whole_body()
    return _core(_exact(SERVER, req.method, parts), st, req)


def _check_readonly(st: ServerState, req: HttpRequest) -> None:
    if st.readonly and req.method not in ("GET", "HEAD") and not req.admin:
        raise BadRequest(core.READONLY_MSG)


def _repo_route(st: ServerState, req: HttpRequest, parts: list[str]) -> Planned:
    _check_readonly(st, req)
    ref = st.datastore.resolve(parts[1])
    if len(parts) == 2:
        if req.method == "HEAD":
            return Planned(lambda: core.repo_head(st, req, ref), quick=True)
        raise NotFound("")
    return _core(_exact(REPO, req.method, parts[2:]), st, req, ref)


def _node_route(st: ServerState, req: HttpRequest, parts: list[str]) -> Planned:
    _check_readonly(st, req)
    ref = st.datastore.resolve(parts[1])
    if len(parts) == 3:
        req.whole_body()
        action = parts[2]
        if (ref.node.locked and req.method != "GET" and action not in LOCK_EXEMPT
                and not req.admin and not st.fullwrite):
            raise BadRequest(f"Cannot do {req.method.lower()} on locked node {ref.uuid}")
        return _core(_exact(NODE, req.method, [action]), st, req, ref)
    if not parts[3]:
        raise NotFound("")
    return _instance_route(st, req, ref, parts)


def _instance_route(st: ServerState, req: HttpRequest, ref: NodeRef, parts: list[str]) -> Planned:
    inst = st.datastore.instance(ref, parts[2])
    keyword = parts[3]
    method = req.method.upper()
    dt = registry.get(inst.typename)
    if keyword == "blobstore" or dt is None or not dt.streams_body(method, keyword):
        req.whole_body()
    if keyword == "blobstore":
        return Planned(lambda: _blobstore(st, req, parts))
    if dt is None:
        raise BadRequest(f'Data type "{inst.typename}" is not supported by current DVID server')
    if inst.migrating and dt.is_mutation(method, keyword):
        raise BadRequest(f'Cannot do {method} on endpoint "{keyword}": data instance "{inst.name}" is being '
                         f'migrated to store "{inst.migrating}"; writes resume when the migration job is done')
    if (inst.versioned and ref.node.locked and dt.is_mutation(method, keyword)
            and not req.admin and not st.fullwrite):
        raise BadRequest(f'Cannot do {method} on endpoint "{keyword}" of locked node {ref.uuid}')
    parts = list(parts)
    if len(parts) > 4 and parts[-1] == "":
        parts.pop()
    parts[1] = ref.uuid
    ctx = ServerContext(st, ref, inst)
    return dt.plan(ctx, Request(method, req.path, parts, req.query, req.body, arriving=req.arriving))


def streams_upload(st: ServerState, method: str, path: str) -> bool:
    """Whether a request may be handed to its handler while its body still arrives: only when it
    names an instance route that streams its body. Any error answers False: the request then
    reads its whole body first and the error is reported as usual."""
    parts = path.split("/", 6)
    if len(parts) < 6 or parts[1] != "api" or parts[2] != "node":
        return False
    try:
        inst = st.datastore.instance(st.datastore.resolve(parts[3]), parts[4])
    except DVIDError:
        return False
    dt = registry.get(inst.typename)
    return dt is not None and dt.streams_body(method, parts[5])


def _blobstore(st: ServerState, req: HttpRequest, parts: list[str]) -> Response:
    if req.method == "POST":
        ref = st.datastore.put_blob(bytes(req.body))
        return Response(f'{{"reference": {core.q(ref)}}}'.encode(), content_type="application/json")
    if req.method in ("GET", "HEAD"):
        if len(parts) < 5 or not parts[4]:
            raise BadRequest("blobstore GET requires a reference after 'blobstore'")
        data = st.datastore.get_blob(parts[4])
        if data is None:
            raise NotFound(f'Reference "{parts[4]}" not found')
        return Response(data, content_type="application/octet-stream")
    raise BadRequest("blobstore only supports GET and POST")
