"""URL routing for ``/api/...`` (goji semantics: exact segment matches, no trailing slashes,
unmatched path or method -> 404) plus the repo/node/instance middleware rules of core.md §0.1."""

from __future__ import annotations

from dvid.datatypes import registry
from dvid.datatypes.base import Request, Response
from dvid.errors import BadRequest, NotFound
from dvid.server import core_routes as r
from dvid.server.context import ServerContext
from dvid.server.http import HttpRequest
from dvid.server.state import ServerState

_SERVER_GET = {
    "info": r.server_info,
    "note": r.server_note,
    "types": r.server_types,
    "compiled-types": r.compiled_types,
    "jobs": r.jobs_list,
}

_REPO_ACTIONS = {
    ("GET", "info"): r.repo_info_get,
    ("POST", "info"): r.repo_info_post,
    ("POST", "instance"): r.repo_new_instance,
    ("GET", "log"): r.repo_log_get,
    ("POST", "log"): r.repo_log_post,
    ("POST", "merge"): r.repo_merge,
    ("POST", "resolve"): r.repo_resolve,
}

_NODE_ACTIONS = {
    ("GET", "note"): r.node_note_get,
    ("POST", "note"): r.node_note_post,
    ("GET", "log"): r.node_log_get,
    ("POST", "log"): r.node_log_post,
    ("GET", "commit"): r.node_status,
    ("GET", "status"): r.node_status,
    ("POST", "commit"): r.node_commit,
    ("POST", "newversion"): r.node_newversion,
    ("POST", "branch"): r.node_branch,
    ("POST", "tag"): r.node_tag,
}
_LOCK_EXEMPT = ("branch", "newversion", "tag")


def dispatch(st: ServerState, req: HttpRequest) -> Response:
    """Route one request. An upload still arriving (``req.arriving``) is only left so for an
    instance endpoint whose datatype streams it; every other handler sees the whole body."""
    path = req.path
    if not path.startswith("/api/"):
        raise NotFound("")
    p = path[5:].split("/")
    method = "GET" if req.method == "HEAD" else req.method
    head = p[0]
    n = len(p)
    if req.arriving is not None and not (head == "node" and n >= 4):
        req.whole_body()
    if head == "help" and (n == 1 or (n == 2 and p[1] == "")) and method == "GET":
        return r.help_page(st, req)
    if head == "help" and n == 2 and method == "GET":
        return r.type_help(st, req, p[1])
    if n == 1 and method == "GET":
        if head == "load":
            return r.load(st, req)
        if head == "heartbeat":
            return r.heartbeat(st, req)
        if head == "user-latencies":
            return r.user_latencies(st, req)
    if head == "server":
        if n == 2 and method == "GET" and p[1] in _SERVER_GET:
            return _SERVER_GET[p[1]](st, req)
        if n == 2 and method == "POST" and p[1] == "settings":
            return r.server_settings(st, req)
        if n == 3 and method == "GET" and p[1] == "jobs":
            return r.job_get(st, req, p[2])
        raise NotFound("")
    if head == "repos":
        if n == 1 and method == "POST":
            return r.repos_post(st, req)
        if n == 2 and p[1] == "info" and method == "GET":
            return r.repos_info(st, req)
        raise NotFound("")
    if head == "repo" and n >= 2 and p[1]:
        return _repo_route(st, req, method, p)
    if head == "node" and n >= 3 and p[1] and p[2]:
        return _node_route(st, req, method, p)
    raise NotFound("")


def _check_readonly(st: ServerState, req: HttpRequest) -> None:
    if st.readonly and req.method not in ("GET", "HEAD") and not req.admin:
        raise BadRequest(r.READONLY_MSG)


def _repo_route(st: ServerState, req: HttpRequest, method: str, p: list[str]) -> Response:
    _check_readonly(st, req)
    ref = st.datastore.resolve(p[1])
    if len(p) == 2:
        if req.method == "HEAD":
            return r.repo_head(st, req, ref)
        raise NotFound("")
    if len(p) == 3 and (method, p[2]) in _REPO_ACTIONS:
        return _REPO_ACTIONS[(method, p[2])](st, req, ref)
    if len(p) == 4 and p[2] == "branch-versions" and p[3] and method == "GET":
        return r.branch_versions(st, req, ref, p[3])
    raise NotFound("")


def _node_route(st: ServerState, req: HttpRequest, method: str, p: list[str]) -> Response:
    _check_readonly(st, req)
    ref = st.datastore.resolve(p[1])
    if len(p) == 3:
        action = p[2]
        if (ref.node.locked and method not in ("GET",) and action not in _LOCK_EXEMPT
                and not req.admin and not st.fullwrite):
            raise BadRequest(f"Cannot do {req.method.lower()} on locked node {ref.uuid}")
        handler = _NODE_ACTIONS.get((method, action))
        if handler is None:
            raise NotFound("")
        return handler(st, req, ref)
    keyword = p[3]
    if not keyword:
        raise NotFound("")
    return _instance_route(st, req, ref, p)


def _instance_route(st: ServerState, req: HttpRequest, ref, p: list[str]) -> Response:
    inst = st.datastore.instance(ref, p[2])
    keyword = p[3]
    method = req.method.upper()
    dt = registry.get(inst.typename)
    if req.arriving is not None and (keyword == "blobstore" or dt is None or not dt.streams_body(method, keyword)):
        req.whole_body()
    if keyword == "blobstore":
        return _blobstore(st, req, p)
    if dt is None:
        raise BadRequest(f'Data type "{inst.typename}" is not supported by current DVID server')
    if inst.migrating and dt.is_mutation(method, keyword):
        raise BadRequest(f'Cannot do {method} on endpoint "{keyword}": data instance "{inst.name}" is being '
                         f'migrated to store "{inst.migrating}"; writes resume when the migration job is done')
    if (inst.versioned and ref.node.locked and dt.is_mutation(method, keyword)
            and not req.admin and not st.fullwrite):
        raise BadRequest(f'Cannot do {method} on endpoint "{keyword}" of locked node {ref.uuid}')
    parts = list(p)
    if len(parts) > 4 and parts[-1] == "":
        parts.pop()
    parts[1] = ref.uuid
    ctx = ServerContext(st, ref, inst)
    return dt.handle(ctx, Request(method, req.path, parts, req.query, req.body, arriving=req.arriving))


def _blobstore(st: ServerState, req: HttpRequest, p: list[str]) -> Response:
    if req.method == "POST":
        ref = st.datastore.put_blob(bytes(req.body))
        return Response(f'{{"reference": {r.q(ref)}}}'.encode(), content_type="application/json")
    if req.method in ("GET", "HEAD"):
        if len(p) < 5 or not p[4]:
            raise BadRequest("blobstore GET requires a reference after 'blobstore'")
        data = st.datastore.get_blob(p[4])
        if data is None:
            raise NotFound(f'Reference "{p[4]}" not found')
        return Response(data, content_type="application/octet-stream")
    raise BadRequest("blobstore only supports GET and POST")
