"""intern 1.4.2 (BossDB SDK) DVIDRemote, unchanged, against our server (in .venv-intern).

The client script runs every step and reports each; one test per step here.  What intern
needs from us (clients.md §5): capitalised create keys, the exact {"root": ...} reply it parses
with ast.literal_eval, raw POST without Content-Type, raw GET with a trailing /octet-stream,
commit, repo and node info, and a branch without a name refused with a 400 that surfaces as its
requests.HTTPError.
"""

from __future__ import annotations

import numpy as np
import pytest
import requests

from clients.data import gradient
from clients.proxy import LoggingProxy
from clients.runner import run_script, venv_python


@pytest.fixture(scope="module")
def intern_run(server):
    py = venv_python("intern")
    with LoggingProxy(server.url) as proxy:
        out = run_script(py, "intern_script.py", {"url": proxy.url})
    out["log"] = proxy.exchanges()
    return out


def ok(out, name):
    s = out["steps"][name]
    assert s["ok"], f"intern step {name} failed: {s.get('error_type')}: {s.get('error')}\n{s.get('trace')}"
    return s


def test_create_repo_and_instance(intern_run):
    s = ok(intern_run, "create_project")
    assert len(s["uuid"]) == 32
    posts = [e for e in intern_run["log"] if e.method == "POST" and e.path in ("/api/repos", f"/api/repo/{s['uuid']}/instance")]
    assert [e.status for e in posts[:2]] == [200, 200], posts
    assert posts[0].path == "/api/repos" and posts[0].request_type is None, posts[0]


def test_post_and_get_cutouts(intern_run):
    ok(intern_run, "create_cutout")
    for name in ("get_cutout_aligned_x", "get_cutout_unaligned", "get_cutout_one_slice"):
        s = ok(intern_run, name)
        assert s["shape"] == s["want_shape"] and s["equal"], (name, s)
    posts = [e for e in intern_run["log"] if e.method == "POST" and "/raw/0_1_2/" in e.path]
    assert [(e.status, e.request_type) for e in posts] == [(200, None)], posts  # no Content-Type
    gets = [e for e in intern_run["log"] if e.method == "GET" and "/raw/0_1_2/" in e.path]
    assert gets and all(e.path.endswith("/octet-stream") and e.status == 200 for e in gets), gets
    assert any(e.path.endswith("/raw/0_1_2/64_20_4/0_10_5/octet-stream") for e in gets)


def test_instance_info(intern_run):
    info = ok(intern_run, "instance_info")["info"]
    assert info["Base"]["TypeName"] == "uint8blk"
    assert info["Base"]["Name"] == intern_run["name"]
    assert info["Extended"]["Values"][0]["DataType"] == "uint8"
    assert info["Extended"]["MinPoint"] == [0, 0, 0]
    assert info["Extended"]["MaxPoint"] == [63, 63, 63]


def test_repo_info(intern_run):
    uuid = intern_run["uuid"]
    info = ok(intern_run, "repo_info")["info"]
    assert info["Root"] == uuid
    assert info["Alias"] == "intern-alias"
    assert info["Description"] == "intern test repo"
    assert intern_run["name"] in info["DataInstances"]
    assert uuid in info["DAG"]["Nodes"]


def test_server_info_and_log(intern_run):
    assert isinstance(ok(intern_run, "server_info")["info"], dict)
    ok(intern_run, "post_log")
    # DVID stores "<RFC3339 time>  <message>"
    entries = ok(intern_run, "get_log")["log"]["log"]
    assert any(e.endswith("  intern log line") for e in entries), entries


def test_instance_create_into_existing_repo_and_legacy_delete(intern_run):
    uuid = intern_run["uuid"]
    assert ok(intern_run, "create_second_instance")["uuid"] == uuid
    # DVID removed its DELETE routes in 2016 (core.md §1.6): intern's delete gets the router's
    # 404, which intern raises as HTTPError, and the instance stays.
    s = intern_run["steps"]["delete_second_instance"]
    assert not s["ok"] and s["error_type"] == "requests.exceptions.HTTPError", s
    dels = [e for e in intern_run["log"] if e.method == "DELETE"]
    assert [(e.path, e.status) for e in dels] == [(f"/api/repo/{uuid}/scratch?imsure=true", 404)], dels
    names = set(ok(intern_run, "repo_info_after_delete")["info"]["DataInstances"])
    assert names == {intern_run["name"], "scratch"}, names


def test_commit_then_branch_without_name_is_http_error(intern_run):
    uuid = intern_run["uuid"]
    assert ok(intern_run, "commit")["committed"] == uuid
    s = intern_run["steps"]["branch_without_name"]
    # DVID refuses a branch with no name ("Cannot create a master branch") with a 400;
    # intern turns any non-200 into requests.HTTPError carrying the body.
    assert not s["ok"], f"branch without a name was accepted: {s}"
    assert s["error_type"] == "requests.exceptions.HTTPError", s
    branch = [e for e in intern_run["log"] if e.path == f"/api/node/{uuid}/branch"]
    assert [e.status for e in branch] == [400], branch
    after = ok(intern_run, "repo_info_after")["info"]
    assert after["DAG"]["Nodes"][uuid]["Locked"] is True
    assert len(after["DAG"]["Nodes"]) == 1, "a refused branch must not create a node"


def test_data_readable_by_plain_http(server, intern_run):
    """What intern wrote is what the server serves to anyone (raw GET without suffix)."""
    uuid, name = intern_run["uuid"], intern_run["name"]
    r = requests.get(f"{server.url}/api/node/{uuid}/{name}/raw/0_1_2/64_64_64/0_0_0", timeout=30)
    assert r.status_code == 200
    got = np.frombuffer(r.content, np.uint8).reshape(64, 64, 64)
    assert np.array_equal(got, gradient((64, 64, 64), seed=3))
