"""The console's server side over HTTP: `/` and its files, what it may offer (`/console/server.json`),
DVID's `webClient` directory, and the embedded neuroglancer's small protocol (page, event stream,
state and credentials posts), including a prompt shutdown while a viewer is open."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
from urllib.parse import urlsplit

import pytest
import requests

from clients.data import quadrants
from clients.viewer import make_uint8blk
from dvid.server import ngviewer


def test_root_serves_the_console_and_its_files(server):
    r = requests.get(server.url + "/", timeout=10)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "DVID console" in r.text and '/console/app.js' in r.text
    for name, ctype in [("app.js", "text/javascript"), ("console.css", "text/css"), ("core-api.json", "application/json")]:
        f = requests.get(f"{server.url}/console/{name}", timeout=10)
        assert f.status_code == 200 and f.headers["content-type"].startswith(ctype), (name, f.headers)
    icon = requests.get(server.url + "/favicon.ico", timeout=10)
    assert icon.status_code == 200 and icon.content[:4] == b"\x89PNG"
    etag = requests.get(server.url + "/console/app.js", timeout=10).headers["etag"]
    again = requests.get(server.url + "/console/app.js", headers={"If-None-Match": etag}, timeout=10)
    assert again.status_code == 304 and again.content == b""


@pytest.mark.parametrize("path", ["/console/nope.js", "/console/../pyproject.toml", "/console/.hidden",
                                  "/nothing-here", "/api", "/neuroglancer/static/nope.js",
                                  "/neuroglancer/static/..%2F__init__.py"])
def test_unknown_web_paths_are_404(server, path):
    r = requests.get(server.url + path, timeout=10)
    assert r.status_code == 404, (path, r.status_code, r.text[:200])


def test_post_to_the_console_is_404_and_api_routes_are_unchanged(server, repo):
    assert requests.post(server.url + "/", data=b"x", timeout=10).status_code == 404
    assert requests.get(f"{server.url}/api/repo/{repo}/info", timeout=10).json()["Root"] == repo
    assert requests.get(server.url + "/api/repos/info/", timeout=10).status_code == 404  # goji: no trailing slash


def _caps(srv, token: str | None = None) -> dict:
    q = f"?admintoken={token}" if token else ""
    return requests.get(f"{srv.url}/console/server.json{q}", timeout=10).json()


def test_capabilities_offer_writes_only_where_the_server_takes_them(server, server_factory):
    c = _caps(server)
    assert c["writes"] and not c["readonly"] and not c["admin_token_configured"] and c["neuroglancer"]
    assert {"uint8blk", "roi"} <= set(c["types"])
    assert c["stores"] == [{"alias": "main", "engine": "lmdb", "role": "default (data and metadata)",
                            "location": c["stores"][0]["location"]}]
    assert c["stores"][0]["location"].startswith("lmdb @ ")
    guarded = server_factory(extra_toml='admintoken = "tok3n"')
    assert not _caps(guarded)["writes"] and _caps(guarded)["admin_token_configured"]
    assert not _caps(guarded, "wrong")["admin"]
    assert _caps(guarded, "tok3n")["writes"] and _caps(guarded, "tok3n")["admin"]
    ro = server_factory(extra_toml='rwMode = "readonly"')
    assert _caps(ro)["readonly"] and not _caps(ro)["writes"]
    ro_tok = server_factory(extra_toml='rwMode = "readonly"\nadmintoken = "t"')
    assert not _caps(ro_tok)["writes"] and _caps(ro_tok, "t")["writes"]


def test_web_client_directory_replaces_the_console(server_factory, tmp_path):
    site = tmp_path / "site"
    (site / "js").mkdir(parents=True)
    (site / "index.html").write_text("<html>my console</html>")
    (site / "js" / "a.js").write_text("var a = 1;")
    srv = server_factory(extra_toml=f'webClient = "{site}"')
    assert requests.get(srv.url + "/", timeout=10).text == "<html>my console</html>"
    r = requests.get(srv.url + "/js/a.js", timeout=10)
    assert r.text == "var a = 1;" and "javascript" in r.headers["content-type"]
    assert requests.get(srv.url + "/console/app.js", timeout=10).status_code == 404
    assert requests.get(srv.url + "/missing.html", timeout=10).status_code == 404
    assert requests.get(srv.url + "/../config.toml", timeout=10).status_code == 404
    assert requests.get(srv.url + "/api/server/info", timeout=10).status_code == 200
    fallback = server_factory(extra_toml=f'webClient = "{site}"\nwebDefaultFile = "index.html"')
    assert requests.get(fallback.url + "/some/app/route", timeout=10).text == "<html>my console</html>"
    redirect = server_factory(extra_toml=f'webClient = "{site}"\nwebRedirectPath = "/index.html"')
    r = requests.get(redirect.url + "/elsewhere", allow_redirects=False, timeout=10)
    assert r.status_code == 308 and r.headers["location"] == "/index.html"


def test_build_state_centres_the_volume_in_metres():
    ext = {"VoxelSize": [4, 4, 40], "MinPoint": [100, 0, 10], "MaxPoint": [1123, 511, 19]}
    s = ngviewer.build_state("http://h:1", "abc", "em", ext)
    assert s["dimensions"] == {"x": [4e-9, "m"], "y": [4e-9, "m"], "z": [40e-9, "m"]}
    assert s["position"] == [100 + 512, 256, 10 + 5 + 0.5]
    assert s["crossSectionScale"] == 1024 / 500
    assert s["layers"] == [{"type": "image", "source": "dvid://http://h:1/abc/em", "name": "em"}]
    assert "position" not in ngviewer.build_state("http://h:1", "abc", "em", {"VoxelSize": [8, 8, 8]})


def _events(url: str, n: int = 2) -> list[dict]:
    """The first ``n`` messages of an event stream (the stream itself stays open)."""
    with requests.get(url, stream=True, timeout=10) as r:
        assert r.status_code == 200 and r.headers["content-type"] == "text/event-stream"
        msgs = []
        for line in r.iter_lines():
            if line.startswith(b"data: "):
                msgs.append(json.loads(line[6:]))
                if len(msgs) == n:
                    return msgs
    return msgs


def test_viewer_page_state_and_protocol(server, repo):
    make_uint8blk(server.url, repo, "gray", "jpeg", quadrants((64, 128, 128)))
    token = f"{repo}@gray"
    page = requests.get(f"{server.url}/neuroglancer/v/{token}/", timeout=10)
    assert page.status_code == 200 and '<base href="/neuroglancer/static/">' in page.text
    scripts = re.findall(r'src="([^"]+\.js)"', page.text)
    assert scripts and all(requests.head(f"{server.url}/neuroglancer/static/{s}", timeout=10).status_code == 200
                           for s in scripts)
    asset = requests.get(f"{server.url}/neuroglancer/static/{scripts[0]}", timeout=10)
    assert "immutable" in asset.headers["cache-control"] and "javascript" in asset.headers["content-type"]
    config, state = _events(f"{server.url}/neuroglancer/events/{token}?c=client1&gc=&gs=")
    assert config == {"k": "c", "s": {}, "g": "server/1"} and state["k"] == "s"
    host = server.url.split("//")[1]
    assert state["s"]["layers"][0]["source"] == f"dvid://http://{host}/{repo}/gray"
    assert state["s"]["position"] == [64, 64, 32.5]
    # a viewer that reconnects keeps its own state: nothing is sent again
    with requests.get(f"{server.url}/neuroglancer/events/{token}?c=client1&gc=server/1&gs=client1/7",
                      stream=True, timeout=10) as r:
        first = next(r.iter_lines())
        assert first == b": open"
    # any UUID spec names the version; the state carries the full UUID
    (_, by_branch) = _events(f"{server.url}/neuroglancer/events/{repo[:6]}:master@gray?c=c2&gc=&gs=")
    assert by_branch["s"]["layers"][0]["source"].endswith(f"/{repo}/gray")
    reply = requests.post(f"{server.url}/neuroglancer/state/{token}",
                          data=json.dumps({"s": {}, "g": 7, "pg": "server/1", "c": "client1"}), timeout=10)
    assert reply.json() == {"g": "client1/7"}
    creds = requests.post(f"{server.url}/neuroglancer/credentials/{token}",
                          data=json.dumps({"key": "DVID", "parameters": {"dvidServer": server.url}}), timeout=10)
    assert creds.json()["credentials"] == {"tokenType": "", "accessToken": ""}


@pytest.mark.parametrize("url, msg", [
    ("/neuroglancer/v/no-at-sign/", "is not <uuid>@<instance name>"),
    ("/neuroglancer/events/ffffffffffff@gray?c=x&gc=&gs=", "ffffffffffff"),
    ("/neuroglancer/events/{repo}@missing?c=x&gc=&gs=", "missing"),
])
def test_viewer_bad_tokens_are_400(server, repo, url, msg):
    r = requests.get(server.url + url.format(repo=repo), timeout=10)
    assert r.status_code == 400 and msg in r.text and r.text.endswith(").\n"), r.text


def test_viewer_refuses_non_volumes_and_bad_posts(server, repo):
    requests.post(f"{server.url}/api/repo/{repo}/instance", json={"typename": "roi", "dataname": "r"}, timeout=10)
    r = requests.get(f"{server.url}/neuroglancer/events/{repo}@r?c=x&gc=&gs=", timeout=10)
    assert r.status_code == 400 and "not a voxel volume" in r.text
    for kind in ("state", "credentials"):
        r = requests.post(f"{server.url}/neuroglancer/{kind}/{repo}@r", data=b"{not json", timeout=10)
        assert r.status_code == 400, (kind, r.text)


def test_documented_core_routes_exist(server, repo):
    """Every GET in the console's core API help answers (no 404) once its placeholders are filled."""
    doc = requests.get(server.url + "/console/core-api.json", timeout=10).json()
    fill = {"{uuid}": repo, "{type}": "uint8blk", "{branch}": "master", "{job}": "no-such-job",
            "{name}": "gray", "{reference}": "x", "{uuid}@{name}": f"{repo}@gray"}
    make_uint8blk(server.url, repo, "gray", "lz4", quadrants((64, 64, 64)))
    checked = 0
    for group in doc["groups"]:
        for methods, path, _ in group["routes"]:
            if "GET" not in methods.split() or "..." in path or "{keyword}" in path:
                continue
            url = path
            for k, v in sorted(fill.items(), key=lambda kv: -len(kv[0])):
                url = url.replace(k, v)
            r = requests.get(server.url + url, timeout=10)
            assert r.status_code != 404 or "blobstore" in path, (path, url, r.status_code, r.text[:200])
            checked += 1
    assert checked >= 20


@pytest.mark.parametrize("workers", [1, 2])
def test_shutdown_is_prompt_with_a_viewer_connected(server_factory, workers):
    """An open viewer keeps its event stream open; SIGTERM must still stop the server (without
    the stream ending itself, uvicorn's graceful shutdown waits for it forever)."""
    srv = server_factory(workers=workers)
    repo = srv.new_repo()
    make_uint8blk(srv.url, repo, "gray", "lz4", quadrants((64, 64, 64)))
    u = urlsplit(srv.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)  # as a browser's EventSource
    conn.request("GET", f"/neuroglancer/events/{repo}@gray?c=x&gc=&gs=", headers={"Accept": "text/event-stream"})
    resp = conn.getresponse()
    assert resp.status == 200 and resp.readline().startswith(b"data: ")
    os.killpg(srv.proc.pid, signal.SIGTERM)
    try:
        code = srv.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail("the server did not stop on SIGTERM while an event stream was open")
    finally:
        conn.close()
    assert code in (0, -signal.SIGTERM), code  # uvicorn re-raises the signal after its graceful stop
    srv.proc = None
