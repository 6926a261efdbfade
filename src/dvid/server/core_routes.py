"""Server-, repo- and node-level routes (core.md §1.1-§1.4). Handlers are plain functions of the
server state and the parsed request, returning a ``Response``; routing lives in ``router.py``."""

from __future__ import annotations

import hmac
import html
import json
import os
import resource
import time
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from dvid import DATASTORE_VERSION, __version__
from dvid.datastore.model import NodeRef
from dvid.datatypes import registry
from dvid.datatypes.base import Response
from dvid.errors import BadRequest, NotFound
from dvid.jsonbody import config_object, dumps, opt_string, parse_json
from dvid.limits import refuse
from dvid.server.http import HttpRequest
from dvid.server.state import ServerState
from dvid.server.suggest import instance_note

READONLY_MSG = "Server in read-only mode and will only accept GET and HEAD requestcs"


def ok() -> Response:
    return Response(b"")


def q(s: str) -> str:
    """Go's %q for the hand-formatted replies (``{"root": "<uuid>"}``)."""
    return json.dumps(s)


# ------------------------------------------------------------------------------------ server level
def core_api() -> dict[str, Any]:
    """The core endpoints, one list shared by ``/api/help`` and the console's help page
    (``server/console/core-api.json``: groups of ``[method, path, what]``)."""
    return json.loads(resources.files("dvid.server").joinpath("console", "core-api.json").read_text())


def help_page(st: ServerState, req: HttpRequest) -> Response:
    """Every core endpoint, grouped, then the compiled datatypes each linking to its help."""
    api = core_api()
    parts = ["<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>DVID (Python) API</title></head><body>",
             f"<h1>DVID-compatible server {html.escape(__version__)}</h1><p>{html.escape(api['about'])}</p>"]
    for group in api["groups"]:
        parts.append(f"<h2>{html.escape(group['title'])}</h2><table>")
        parts += [f"<tr><td><code>{html.escape(m)}</code></td><td><code>{html.escape(path)}</code></td>"
                  f"<td>{html.escape(what)}</td></tr>" for m, path, what in group["routes"]]
        parts.append("</table>")
    parts.append("<h2>Data types</h2><ul>")
    parts += [f'<li><a href="/api/help/{n}">{n}</a></li>' for n in registry.all_types()]
    parts.append("</ul></body></html>")
    return Response("".join(parts).encode(), content_type="text/html")


def type_help(st: ServerState, req: HttpRequest, typename: str) -> Response:
    if not typename:  # /api/help/
        return help_page(st, req)
    dt = registry.get(typename)
    if dt is None:
        raise BadRequest(f'Data type "{typename}" is not supported by current DVID server')
    return Response(dt.help().encode(), content_type="text/plain")


def load(st: ServerState, req: HttpRequest) -> Response:
    body = {
        "file bytes read": 0, "file bytes written": 0, "key bytes read": 0, "key bytes written": 0,
        "value bytes read": 0, "value bytes written": 0,
        "GET requests": st.load.rate("GET"), "PUT requests": st.load.rate("PUT"),
        "handlers active": min(100, st.load.active * 100 // max(1, 10 * (os.cpu_count() or 1))),
        "goroutines": st.load.active, "active CGo writes": 0, "pending log messages": 0,
    }
    return Response(dumps(body), content_type="application/json")


def heartbeat(st: ServerState, req: HttpRequest) -> Response:
    user = req.query.get("u")
    if user:
        now = datetime.now(UTC).astimezone().isoformat(timespec="seconds")
        rec = st.latencies.setdefault(user, {"User": user, "LastPing": now, "LastLatency": 0,
                                             "MinLatency": 0, "MaxLatency": 0})
        rec["LastPing"] = now
    return Response(b"OK", content_type="text/plain")


def user_latencies(st: ServerState, req: HttpRequest) -> Response:
    user = req.query.get("u")
    if user:
        rec = st.latencies.get(user, {"User": "", "LastPing": "", "LastLatency": 0, "MinLatency": 0,
                                      "MaxLatency": 0})
        return Response(dumps(rec), content_type="application/json")
    return Response(dumps(st.latencies), content_type="application/json")


def server_info(st: ServerState, req: HttpRequest) -> Response:
    uptime = int(time.time() - st.started)
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    info = {
        "Cores": str(os.cpu_count() or 1),
        "Maximum Cores": str(os.cpu_count() or 1),
        "Datastore Version": DATASTORE_VERSION,
        "DVID Version": f"python-{__version__}",
        "Storage backend": st.store.description,
        "Server time": datetime.now(UTC).astimezone().isoformat(),
        "Server uptime": f"{uptime // 3600}h{uptime % 3600 // 60}m{uptime % 60}s",
        "RPC Address": st.config.rpc_address,
        "Host": st.host(),
        "Note": st.config.note,
        "TOML location": st.config.toml_path,
        "Max Open Files": str(soft),
    }
    if st.readonly:
        info["Mode"] = "read only"
    elif st.fullwrite:
        info["Mode"] = "allow writes on committed nodes"
    return Response(dumps(info), content_type="application/json")


def server_note(st: ServerState, req: HttpRequest) -> Response:
    return Response(st.config.note.encode(), content_type="text/plain")


def server_types(st: ServerState, req: HttpRequest) -> Response:
    types = registry.all_types()
    used = {n: types[n].url for n in sorted(st.datastore.types_in_use()) if n in types}
    return Response(dumps(used), content_type="application/json")


def compiled_types(st: ServerState, req: HttpRequest) -> Response:
    return Response(dumps({n: t.url for n, t in registry.all_types().items()}), content_type="application/json")


def server_settings(st: ServerState, req: HttpRequest) -> Response:
    if not req.admin:
        raise BadRequest("POST /api/server/settings requires admin privileges (admintoken or DSG admin)")
    cfg = config_object(req.body, limit=st.config.limits.max_json_bytes)
    lines = []
    for key in ("gc", "throttle"):
        if key not in cfg:
            continue
        v = cfg[key]
        try:
            if not isinstance(v, str):
                raise ValueError(f"{v!r} is not a string")
            n = int(v)
            if n < 0:
                raise ValueError("must not be negative")
        except ValueError as e:
            raise BadRequest(f"POST on settings endpoint had bad parsing of '{key}' key: {e}") from None
        limits = st.config.limits
        if key == "throttle" and n > limits.max_throttle:
            raise refuse("throttle setting", n, "max_throttle", limits.max_throttle)
        if key == "gc":
            old = st.datastore.get_setting("gc", 100)
            lines.append(f"DVID server garbage collection target percentage set to {n} from {old}")
        else:
            old = st.datastore.get_setting("throttle", 1)
            lines.append(f"Maximum throttled ops set to {n} from {old}")
        st.datastore.set_setting(key, n)
    return Response(("\n".join(lines) + ("\n" if lines else "")).encode(), content_type="text/plain")


def jobs_list(st: ServerState, req: HttpRequest) -> Response:
    return Response(dumps(st.jobs.list()), content_type="application/json")


def job_get(st: ServerState, req: HttpRequest, job_id: str) -> Response:
    rec = st.jobs.get(job_id)
    if rec is None:
        raise BadRequest(f'no job with id "{job_id}"')
    return Response(dumps(rec), content_type="application/json")


# ------------------------------------------------------------------------------------------- repos
def repos_post(st: ServerState, req: HttpRequest) -> Response:
    if st.readonly:
        raise BadRequest("Cannot POST on repos endpoints in read-only mode")
    if st.config.admin_required_for_repo_creation and not req.admin:
        raise BadRequest("Creating a repo requires admin privileges (admintoken or DSG admin) on a server "
                         "that is not read-only")
    cfg = config_object(req.body, limit=st.config.limits.max_json_bytes)
    alias = opt_string(cfg, "alias", "POST on repos endpoint requires valid 'alias'") or ""
    desc = opt_string(cfg, "description", "POST on repos endpoint requires valid 'description'") or ""
    root = opt_string(cfg, "root", "POST on repos endpoint requires valid 'root'") or None
    passcode = opt_string(cfg, "passcode", "POST on repos endpoint requires valid 'passcode'") or ""
    repo = st.datastore.new_repo(alias, desc, root=root, passcode=passcode)
    return Response(f'{{"root": {q(repo.root)}}}'.encode(), content_type="application/json")


def repos_info(st: ServerState, req: HttpRequest) -> Response:
    return Response(dumps(st.datastore.repos_json()), content_type="application/json")


def repo_head(st: ServerState, req: HttpRequest, ref: NodeRef) -> Response:
    return Response(f"Repo available with root UUID {ref.repo.root}".encode(), content_type="text/plain")


def repo_info_get(st: ServerState, req: HttpRequest, ref: NodeRef) -> Response:
    return Response(dumps(st.datastore.repo_json(ref.repo)), content_type="application/json")


def repo_info_post(st: ServerState, req: HttpRequest, ref: NodeRef) -> Response:
    cfg = config_object(req.body, limit=st.config.limits.max_json_bytes)
    alias = opt_string(cfg, "alias", "POST on repo/info endpoint requires valid 'alias'")
    desc = opt_string(cfg, "description", "POST on repo/info endpoint requires valid 'description'")
    st.datastore.set_repo_info(ref, alias, desc)
    return ok()


def repo_new_instance(st: ServerState, req: HttpRequest, ref: NodeRef) -> Response:
    cfg = config_object(req.body, limit=st.config.limits.max_json_bytes)
    typename = cfg.get("typename")
    if not isinstance(typename, str) or not typename:
        raise BadRequest("POST on repo endpoint requires specification of valid 'typename'")
    name = cfg.get("dataname")
    if not isinstance(name, str) or not name:
        raise BadRequest("POST on repo endpoint requires specification of valid 'dataname'")
    if "/" in name or name != name.strip():
        raise BadRequest(f'data instance name "{name}" cannot contain "/" or surrounding spaces')
    st.datastore.new_instance(ref, typename, name, cfg, admin=req.admin or st.fullwrite)
    msg = f"Added {name} [{typename}] to node {ref.uuid}"
    note = instance_note(typename, name, ref.uuid, parse_json(req.body))
    extra = f', "warning": {q(note)}' if note else ""  # DVID's reply stays byte-identical without one
    return Response(f'{{"result": {q(msg)}{extra}}}'.encode(), content_type="application/json")


def _log_lines(st: ServerState, req: HttpRequest) -> list[str]:
    doc = parse_json(req.body, required=True, limit=st.config.limits.max_json_bytes)
    if not isinstance(doc, dict) or "log" not in doc:
        raise BadRequest("Could not find 'log' value in POSTed JSON.")
    lines = doc["log"]
    if not isinstance(lines, list) or not all(isinstance(x, str) for x in lines):
        raise BadRequest("'log' value in POSTed JSON must be a list of strings")
    return lines


def repo_log_get(st: ServerState, req: HttpRequest, ref: NodeRef) -> Response:
    return Response(dumps({"log": ref.repo.log}), content_type="application/json")


def repo_log_post(st: ServerState, req: HttpRequest, ref: NodeRef) -> Response:
    st.datastore.append_repo_log(ref, _log_lines(st, req))
    return ok()


def branch_versions(st: ServerState, req: HttpRequest, ref: NodeRef, name: str) -> Response:
    return Response(dumps(st.datastore.branch_versions(ref, name)), content_type="application/json")


def _string_list(cfg: dict[str, Any], key: str, msg: str) -> list[str]:
    v = cfg.get(key)
    if v is None:
        return []
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise BadRequest(msg)
    return v


def repo_merge(st: ServerState, req: HttpRequest, ref: NodeRef) -> Response:
    if not bytes(req.body).strip():
        raise BadRequest("merge requires JSON to be POSTed per API documentation")
    cfg = config_object(req.body, limit=st.config.limits.max_json_bytes)
    parents = _string_list(cfg, "parents", "Must specify at least two parent UUIDs using 'parents' field")
    mtype = cfg.get("mergetype", "")
    if not isinstance(mtype, str):
        raise BadRequest("'mergeType' must be 'conflict-free' at this time")
    note = opt_string(cfg, "note", "'note' must be a string") or ""
    if len(parents) < 2:
        raise BadRequest("Must specify at least two parent UUIDs using 'parents' field")
    child = st.datastore.merge(ref, parents, note, mtype)
    return Response(f'{{"child": {q(child)}}}'.encode(), content_type="application/json")


def repo_resolve(st: ServerState, req: HttpRequest, ref: NodeRef) -> Response:
    cfg = config_object(req.body, required=True, limit=st.config.limits.max_json_bytes)
    data = _string_list(cfg, "data", "Must specify at least one data instance using 'data' field")
    parents = _string_list(cfg, "parents", "Must specify at least two parent UUIDs using 'parents' field")
    note = opt_string(cfg, "note", "'note' must be a string") or ""
    child = st.datastore.resolve_conflicts(ref, data, parents, note)
    return Response(f'{{"child": {q(child)}}}'.encode(), content_type="application/json")


# ------------------------------------------------------------------------------------------- nodes
def node_note_get(st: ServerState, req: HttpRequest, ref: NodeRef) -> Response:
    return Response(dumps({"note": ref.node.note}), content_type="application/json")


def node_note_post(st: ServerState, req: HttpRequest, ref: NodeRef) -> Response:
    doc = parse_json(req.body, required=True, limit=st.config.limits.max_json_bytes)
    if not isinstance(doc, dict) or "note" not in doc:
        raise BadRequest("Could not find 'note' value in POSTed JSON.")
    if not isinstance(doc["note"], str):
        raise BadRequest("'note' value in POSTed JSON must be a string")
    st.datastore.set_node_note(ref, doc["note"])
    return ok()


def node_log_get(st: ServerState, req: HttpRequest, ref: NodeRef) -> Response:
    return Response(dumps({"log": ref.node.log}), content_type="application/json")


def node_log_post(st: ServerState, req: HttpRequest, ref: NodeRef) -> Response:
    st.datastore.append_node_log(ref, _log_lines(st, req))
    return ok()


def node_status(st: ServerState, req: HttpRequest, ref: NodeRef) -> Response:
    return Response(b'{"Locked":true}' if ref.node.locked else b'{"Locked":false}', content_type="application/json")


def node_commit(st: ServerState, req: HttpRequest, ref: NodeRef) -> Response:
    cfg = config_object(req.body, required=True, limit=st.config.limits.max_json_bytes)
    note = opt_string(cfg, "note", "'note' must be a string") or ""
    log = _string_list(cfg, "log", "'log' must be a list of strings")
    st.datastore.commit(ref, note, log)
    return Response(f'{{"committed": {q(ref.uuid)}}}'.encode(), content_type="application/json")


def _child_args(st: ServerState, req: HttpRequest) -> tuple[dict[str, Any], str, str | None]:
    cfg = config_object(req.body, limit=st.config.limits.max_json_bytes)
    note = opt_string(cfg, "note", "'note' must be a string") or ""
    uuid = opt_string(cfg, "uuid", "Bad UUID provided") or None
    return cfg, note, uuid


def node_newversion(st: ServerState, req: HttpRequest, ref: NodeRef) -> Response:
    _, note, uuid = _child_args(st, req)
    child = st.datastore.new_version(ref, note, uuid)
    return Response(f'{{"child": {q(child)}}}'.encode(), content_type="application/json")


def node_branch(st: ServerState, req: HttpRequest, ref: NodeRef) -> Response:
    cfg, note, uuid = _child_args(st, req)
    name = opt_string(cfg, "branch", "'branch' must be a string") or ""
    child = st.datastore.branch(ref, name, note, uuid)
    return Response(f'{{"child": {q(child)}}}'.encode(), content_type="application/json")


def node_tag(st: ServerState, req: HttpRequest, ref: NodeRef) -> Response:
    cfg, note, _ = _child_args(st, req)
    tag = opt_string(cfg, "tag", "'tag' must be a string") or ""
    if not tag or "/" in tag or ":" in tag:
        raise BadRequest("POST on tag endpoint requires a 'tag' without '/' or ':'")
    child = st.datastore.tag(ref, tag, note)
    return Response(f'{{"child": {q(child)}}}'.encode(), content_type="application/json")


def is_admin(st: ServerState, token: str | None) -> bool:
    want = st.config.admin_token
    return bool(want) and token is not None and hmac.compare_digest(token.encode(), want.encode())


__all__ = ["NotFound", "READONLY_MSG"]
