"""dvision 0.1.1 (numpy<2, in .venv-dvision), unchanged, against our server.

dvision creates an instance without BlockSize (so the server default applies), reads dtype and
shape from /info (Base.TypeName, Extended.MinPoint/MaxPoint), POSTs raw without Content-Type and
GETs raw with a trailing /nD, turning integer indexes into size-1 slices.
"""

from __future__ import annotations

import numpy as np
import pytest
import requests

from clients.data import gradient
from clients.proxy import LoggingProxy
from clients.runner import run_script, venv_python


@pytest.fixture(scope="module")
def dvision_run(server):
    py = venv_python("dvision")
    with LoggingProxy(server.url) as proxy:
        out = run_script(py, "dvision_script.py", {"url": proxy.url})
    out["log"] = proxy.exchanges()
    return out


def ok(out, name):
    s = out["steps"][name]
    assert s["ok"], f"dvision step {name} failed: {s.get('error_type')}: {s.get('error')}\n{s.get('trace')}"
    return s


def test_repo_and_instance_creation(dvision_run):
    assert len(ok(dvision_run, "create_repo")["uuid"]) == 32
    ok(dvision_run, "create_instance")
    created = [e for e in dvision_run["log"] if e.method == "POST" and e.path.endswith("/instance")]
    assert [e.status for e in created] == [200], created


def test_info_before_any_write(dvision_run):
    s = ok(dvision_run, "info_before_write")
    assert s["dtype"] == "uint8"
    assert s["shape"] == [0, 0, 0]  # MaxPoint is null until data is written


def test_post_raw_and_info_extents(dvision_run):
    ok(dvision_run, "post_raw")
    ok(dvision_run, "post_raw_offset")
    posts = [e for e in dvision_run["log"] if e.method == "POST" and "/raw/0_1_2/" in e.path]
    assert [(e.status, e.request_type) for e in posts] == [(200, None)] * 2, posts  # no Content-Type
    s = ok(dvision_run, "info_after_write")
    assert s["dtype"] == "uint8"
    # written: x 0..95, y 0..63, z 0..63  ->  shape (z, y, x)
    assert s["shape"] == [64, 64, 96], s["info"]["Extended"]
    ext = s["info"]["Extended"]
    assert ext["MinPoint"] == [0, 0, 0] and ext["MaxPoint"] == [95, 63, 63]


@pytest.mark.parametrize(
    "step", ["get_raw", "get_raw_unaligned", "get_size1_z", "get_size1_xy", "get_second_write"]
)
def test_get_raw_nd(dvision_run, step):
    s = ok(dvision_run, step)
    assert s["shape"] == s["want_shape"] and s["equal"], s


def test_requests_used_nd_suffix(dvision_run):
    gets = [e for e in dvision_run["log"] if e.method == "GET" and "/raw/0_1_2/" in e.path]
    assert gets and all(e.path.endswith("/nD") and e.status == 200 for e in gets), gets
    uuid = dvision_run["uuid"]
    assert any(e.path == f"/api/node/{uuid}/grayscale/raw/0_1_2/10_10_1/0_0_3/nD" and e.length == 100 for e in gets)


def test_written_data_matches_server(server, dvision_run):
    uuid = dvision_run["uuid"]
    r = requests.get(f"{server.url}/api/node/{uuid}/grayscale/raw/0_1_2/64_64_64/0_0_0", timeout=30)
    assert r.status_code == 200
    assert np.array_equal(np.frombuffer(r.content, np.uint8).reshape(64, 64, 64), gradient((64, 64, 64), seed=5))
