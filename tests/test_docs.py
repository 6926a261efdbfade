"""The docs run: every ```sh and ```python block of README.md and docs/*.md is executed against a
real server, every ```toml block must load as a configuration without a warning, every ``*.md``
a doc names must exist, and /api/help must list the core endpoints.

A block that cannot run here (the set-up command itself, benchmarks, a second server's config) is
preceded by ``<!-- doc-test: skip (reason) -->``. Shell blocks of one file run in one bash session
in order (variables carry over), with ``localhost:8000``/``8001`` pointing at the test's server.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from dvid.server.config import load_config

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"(?:<!-- doc-test: skip \((?P<why>[^)]*)\) -->\n)?```(?P<lang>\w*)\n(?P<body>.*?)\n```", re.S)


def blocks(path: Path, lang: str) -> list[str]:
    return [m["body"] for m in FENCE.finditer(path.read_text()) if m["lang"] == lang and m["why"] is None]


def _localize(text: str, srv) -> str:
    http = srv.url.removeprefix("http://")
    return text.replace("localhost:8000", http).replace("localhost:8001", srv.rpc)


@pytest.fixture(scope="module")
def docs_server(server_factory):
    return server_factory(workers=2)


@pytest.fixture
def workdir(tmp_path):
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))  # the docs say .venv/bin/dvid: this interpreter's
    return tmp_path


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_shell_blocks_run(doc, docs_server, workdir):
    script = "\n".join(blocks(doc, "sh"))
    if not script:
        pytest.skip(f"{doc.name} has no runnable shell block")
    res = subprocess.run(["bash", "-euo", "pipefail", "-c", _localize(script, docs_server)], cwd=workdir,
                         capture_output=True, text=True, timeout=300, env={**os.environ, "DVID_RPC": docs_server.rpc})
    assert res.returncode == 0, f"{doc.name}:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_python_blocks_run(doc, docs_server, workdir):
    found = blocks(doc, "python")
    if not found:
        pytest.skip(f"{doc.name} has no runnable Python block")
    for code in found:
        res = subprocess.run([sys.executable, "-c", _localize(code, docs_server)], cwd=workdir,
                             capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, f"{doc.name}:\n{code}\n{res.stderr[-3000:]}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_toml_blocks_are_clean_configs(doc, tmp_path):
    for i, text in enumerate(blocks(doc, "toml")):
        p = tmp_path / f"block{i}.toml"
        p.write_text(text)
        assert load_config(p).warnings == [], f"{doc.name} block {i}"


def test_no_dangling_doc_references():
    missing = []
    for doc in DOCS:
        for name in set(re.findall(r"`((?:docs/)?(?:reference/)?[\w-]+\.md)", doc.read_text())):
            here = [doc.parent / name, ROOT / name, ROOT / "docs" / name, ROOT / "docs" / "reference" / name]
            if not any(p.exists() for p in here):
                missing.append(f"{doc.name}: {name}")
    assert not missing


def test_api_help_lists_every_core_endpoint(server):
    page = requests.get(f"{server.url}/api/help").text
    for method, path in [("GET", "/api/server/info"), ("POST", "/api/repos"), ("GET", "/api/repos/info"),
                         ("POST", "/api/repo/{uuid}/instance"), ("POST", "/api/repo/{uuid}/merge"),
                         ("POST", "/api/node/{uuid}/commit"), ("POST", "/api/node/{uuid}/newversion"),
                         ("POST", "/api/node/{uuid}/branch"), ("GET", "/api/node/{uuid}/{name}/info"),
                         ("GET", "/api/server/jobs/{job}"), ("GET", "/api/repo/{uuid}/branch-versions/{branch}")]:
        assert f"<code>{method}</code></td><td><code>{path}</code>" in page, (method, path)
    assert '<a href="/api/help/uint8blk">uint8blk</a>' in page
    # every listed server/repo/node route exists: a made-up UUID gives DVID's 400, never a 404
    rows = re.findall(r"<td><code>([A-Z ]+)</code></td><td><code>(/api/[^<]+)</code>", page)
    for methods, path in rows:
        if "{name}" in path or "{keyword}" in path or path.startswith("/api/help"):
            continue
        url = server.url + path.replace("{uuid}", "0bad").replace("{job}", "nojob").replace("{branch}", "b")
        for m in methods.split():
            r = requests.request(m, url, timeout=30)
            assert r.status_code != 404, (m, path)
    assert rows
