"""neuroglancer, served by us from the ``neuroglancer`` wheel, opened on one instance at one version.

The wheel ships its built viewer in ``neuroglancer/static/client/``, but that build is the one its
Python integration uses: the page must sit at ``<prefix>/v/<token>/`` and it fetches its state
from ``<prefix>/events/<token>`` (server-sent events), posts state changes to
``<prefix>/state/<token>`` and asks ``<prefix>/credentials/<token>`` for data-source credentials
(served as plain static files it stops with "Failed to determine token from URL."). We answer
that small protocol ourselves under ``/neuroglancer/`` instead of running neuroglancer's tornado
server, so the viewer has the same origin as the API (no CORS set-up) and needs no extra process.

The token names what to show: ``<uuid>@<instance name>``. The initial state is computed here
from the instance's info at that version: a ``dvid://`` source on this server (neuroglancer's DVID
source finds the ``<name>_N`` pyramid levels itself), the voxel size, and the position at the
centre of the extents. State changes the viewer posts are acknowledged and not kept, so every
worker process can answer every request and a reload returns to the preset view.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import threading
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from dvid.datatypes import registry
from dvid.errors import BadRequest
from dvid.server.state import ServerState

PREFIX = "/neuroglancer"
ASSETS = f"{PREFIX}/static/"
_ASSET_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.\-]*\.(?:js|css|wasm|html|map)$")
_MIME = {".js": "text/javascript", ".css": "text/css", ".wasm": "application/wasm",
         ".html": "text/html; charset=utf-8", ".map": "application/json"}
_KEEPALIVE_S = 20.0  # an SSE comment this often keeps proxies from closing an idle stream
_STOPPING = threading.Event()  # set by SIGTERM/SIGINT so open event streams end and shutdown is prompt


@lru_cache(maxsize=1)
def client_dir() -> Path | None:
    """The wheel's built viewer (``neuroglancer/static/client``), found without importing the
    package (its ``__init__`` pulls in tornado and numpy-heavy modules we do not need)."""
    spec = find_spec("neuroglancer")
    if spec is None or not spec.submodule_search_locations:
        return None
    d = Path(next(iter(spec.submodule_search_locations))) / "static" / "client"
    return d if (d / "index.html").is_file() else None


@lru_cache(maxsize=1)
def viewer_page() -> bytes:
    """The wheel's index.html with a ``<base>`` pointing at the shared asset path, so the 5 MB of
    hashed bundles are fetched (and cached by the browser) once, not once per viewer token."""
    d = client_dir()
    if d is None:
        raise BadRequest("neuroglancer is not installed on this server (pip install neuroglancer)")
    html = (d / "index.html").read_text()
    return html.replace("<head>", f'<head><base href="{ASSETS}">', 1).encode()


def asset(name: str) -> tuple[bytes, str] | None:
    """One file of the viewer build, or None if there is no such file."""
    d = client_dir()
    if d is None or not _ASSET_NAME.match(name):
        return None
    p = d / name
    if not p.is_file():
        return None
    return p.read_bytes(), _MIME.get(p.suffix, "application/octet-stream")


def parse_token(token: str) -> tuple[str, str]:
    """``<uuid>@<instance>`` -> (uuid, instance name)."""
    uuid, sep, name = token.partition("@")
    if not sep or not uuid or not name:
        raise BadRequest(f'viewer token "{token}" is not <uuid>@<instance name>')
    return uuid, name


def viewer_url(uuid: str, name: str) -> str:
    from urllib.parse import quote

    return f"{PREFIX}/v/{quote(uuid, safe=':~')}@{quote(name, safe='')}/"


def initial_state(st: ServerState, origin: str, token: str) -> dict[str, Any]:
    """The viewer state for ``token`` at its version: source, voxel size, centred position, zoom."""
    uuid, name = parse_token(token)
    ref = st.datastore.resolve(uuid)
    inst = st.datastore.instance(ref, name)
    dt = registry.get(inst.typename)
    if dt is None:
        raise BadRequest(f'Data type "{inst.typename}" is not supported by current DVID server')
    info = dt.info(inst, st.datastore.view(ref, inst))
    ext = info.get("Extended") or {}
    if "VoxelSize" not in ext or "Values" not in ext:
        raise BadRequest(f'data instance "{name}" is not a voxel volume neuroglancer can show')
    return build_state(origin, ref.uuid, name, ext)


def build_state(origin: str, uuid: str, name: str, ext: dict[str, Any]) -> dict[str, Any]:
    """neuroglancer's state JSON for one image instance (pure, so tests can check it directly).

    neuroglancer's DVID source takes the voxel size as nanometres, so the display dimensions are
    the voxel size in metres; the position is in voxels, at the centre of the extents (a voxel
    centre in z, so the slice drawn is a real one) and zoomed so the whole xy extent fits."""
    vs = [float(v) for v in ext["VoxelSize"][:3]]
    lo, hi = ext.get("MinPoint"), ext.get("MaxPoint")
    state: dict[str, Any] = {
        "dimensions": {axis: [v * 1e-9, "m"] for axis, v in zip("xyz", vs, strict=True)},
        "layers": [{"type": "image", "source": f"dvid://{origin}/{uuid}/{name}", "name": name}],
        "selectedLayer": {"layer": name, "visible": False},
        "layout": "xy",
    }
    if lo is not None and hi is not None:
        size = [h - lo_ + 1 for lo_, h in zip(lo, hi, strict=False)]
        state["position"] = [lo[0] + size[0] / 2, lo[1] + size[1] / 2, lo[2] + size[2] // 2 + 0.5]
        # voxels per screen pixel that fit the larger xy side into ~500 px (a laptop-sized panel)
        state["crossSectionScale"] = max(size[0], size[1]) / 500
    return state


def request_origin(headers: dict[str, str]) -> str:
    """``http://host:port`` the browser used to reach us (the ``dvid://`` source must be absolute)."""
    proto = headers.get("x-forwarded-proto", "http").split(",")[0].strip() or "http"
    host = headers.get("x-forwarded-host") or headers.get("host") or "localhost"
    return f"{proto}://{host.split(',')[0].strip()}"


def _sse(key: str, state: Any, generation: str) -> bytes:
    return f"data: {json.dumps({'k': key, 's': state, 'g': generation}, separators=(',', ':'))}\n\n".encode()


def _watch_stop_signals() -> None:
    """Chain a handler before the server's own SIGTERM/SIGINT handlers that marks us stopping, so
    event streams (which otherwise stay open as long as a viewer tab does) end and uvicorn's
    graceful shutdown does not wait for them. Only possible from the main thread."""
    if getattr(_watch_stop_signals, "done", False) or threading.current_thread() is not threading.main_thread():
        return
    _watch_stop_signals.done = True  # type: ignore[attr-defined]
    for sig in (signal.SIGTERM, signal.SIGINT):
        prev = signal.getsignal(sig)

        def handler(signum: int, frame: Any, prev: Any = prev) -> None:
            _STOPPING.set()
            if callable(prev):
                prev(signum, frame)
            elif prev == signal.SIG_DFL:
                signal.signal(signum, signal.SIG_DFL)
                os.kill(os.getpid(), signum)

        signal.signal(sig, handler)


async def event_stream(send: Any, receive: Any, messages: list[bytes]) -> None:
    """Send the state messages, then keep the stream open (as neuroglancer's server does) until
    the viewer goes away or the server stops; a closed stream makes the viewer show
    "Disconnected from Python server" and reconnect."""
    _watch_stop_signals()
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]})
    await send({"type": "http.response.body", "body": b"".join(messages) or b": open\n\n", "more_body": True})
    gone = asyncio.ensure_future(_until_disconnect(receive))
    try:
        idle = 0.0
        while not gone.done() and not _STOPPING.is_set():
            await asyncio.wait([gone], timeout=1.0)
            idle += 1.0
            if idle >= _KEEPALIVE_S and not gone.done():
                idle = 0.0
                await send({"type": "http.response.body", "body": b": keepalive\n\n", "more_body": True})
        if not gone.done():
            await send({"type": "http.response.body", "body": b""})
    finally:
        gone.cancel()


async def _until_disconnect(receive: Any) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def events_messages(st: ServerState, origin: str, token: str, query: dict[str, str]) -> list[bytes]:
    """What the event stream sends first: the config and the viewer state, each only if the viewer
    does not have one yet (a reconnecting viewer keeps what the user did)."""
    out = []
    if not query.get("gc"):
        out.append(_sse("c", {}, "server/1"))
    if not query.get("gs"):
        out.append(_sse("s", initial_state(st, origin, token), "server/1"))
    return out


def state_reply(body: bytes) -> bytes:
    """Acknowledge a state change (``{"s", "g", "pg", "c"}``) with the generation it now has."""
    try:
        msg = json.loads(body)
        generation = f"{msg['c']}/{msg['g']}"
    except (ValueError, KeyError, TypeError):
        raise BadRequest("neuroglancer state update must be JSON with 's', 'g', 'pg' and 'c'") from None
    return json.dumps({"g": generation}).encode()


def credentials_reply(body: bytes) -> bytes:
    """Credentials for a data source. Our own DVID API needs none (the admin token is for writes),
    so every provider gets an empty bearer token, which neuroglancer does not send over http."""
    try:
        json.loads(body)
    except ValueError:
        raise BadRequest("neuroglancer credentials request must be JSON") from None
    return json.dumps({"generation": 1, "credentials": {"tokenType": "", "accessToken": ""}}).encode()
