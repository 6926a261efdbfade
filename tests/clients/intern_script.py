"""Exercise intern 1.4.2's DVIDRemote against a server (run with .venv-intern's python).

stdin: {"url": "http://127.0.0.1:PORT"}.  Every step is run even if an earlier one failed;
stdout's last line is {"steps": {name: {"ok": bool, ...}}, "uuid": ..., "name": ...}.
"""

import json
import sys
import traceback
from pathlib import Path

import numpy as np
import requests
from intern.remote.dvid import DVIDRemote
from intern.resource.dvid import DataInstanceResource, RepositoryResource

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data import gradient  # noqa: E402

args = json.loads(sys.stdin.read())
host = args["url"].split("://", 1)[1]
name = args.get("name", "grayscale")
steps = {}


def step(label):
    def deco(fn):
        try:
            steps[label] = {"ok": True, **(fn() or {})}
        except Exception as e:  # report, carry on
            steps[label] = {
                "ok": False,
                "error_type": f"{type(e).__module__}.{type(e).__name__}",
                "error": str(e)[:2000],
                "trace": traceback.format_exc()[-3000:],
            }
        return fn

    return deco


rmt = DVIDRemote({"protocol": "http", "host": host})
res = DataInstanceResource(name, None, "uint8blk", "intern-alias", "intern test repo", datatype="uint8")
vol = gradient((64, 64, 64), seed=3)


@step("create_project")
def _():
    uuid = rmt.create_project(res)
    return {"uuid": uuid}


@step("create_cutout")
def _():
    rmt.create_cutout(res, 0, [0, 64], [0, 64], [0, 64], vol)


def cutout(xr, yr, zr):
    got = rmt.get_cutout(res, 0, xr, yr, zr)
    want = vol[zr[0] : zr[1], yr[0] : yr[1], xr[0] : xr[1]]
    return {
        "shape": list(got.shape),
        "want_shape": list(want.shape),
        "equal": bool(got.shape == want.shape and np.array_equal(got, want)),
        "mismatches": int((got != want).sum()) if got.shape == want.shape else -1,
    }


@step("get_cutout_aligned_x")
def _():
    return cutout([0, 64], [10, 30], [5, 9])


@step("get_cutout_unaligned")
def _():
    return cutout([3, 50], [7, 61], [11, 40])


@step("get_cutout_one_slice")
def _():
    return cutout([0, 64], [0, 64], [17, 18])


@step("instance_info")
def _():
    return {"info": rmt.get_info(res)}


@step("repo_info")
def _():
    return {"info": rmt.get_info(RepositoryResource(UUID=res.UUID))}


@step("server_info")
def _():
    return {"info": rmt.get_server_info()}


@step("post_log")
def _():
    r = rmt.post_log(res.UUID, "intern log line")
    return {"status": getattr(r, "status_code", None)}


@step("get_log")
def _():
    raw = rmt.get_log(res.UUID)
    return {"log": json.loads(raw)}


@step("create_second_instance")
def _():
    scratch = DataInstanceResource("scratch", res.UUID, "uint8blk", datatype="uint8")
    return {"uuid": rmt.create_project(scratch)}


@step("delete_second_instance")
def _():
    # DVID has no HTTP delete route (removed 2016): intern's DELETE ...?imsure=true gets a 404
    r = rmt.delete_project(DataInstanceResource("scratch", res.UUID, "uint8blk", datatype="uint8"))
    return {"status": r.status_code}


@step("repo_info_after_delete")
def _():
    return {"info": rmt.get_info(RepositoryResource(UUID=res.UUID))}


@step("commit")
def _():
    return {"committed": rmt.commit(res.UUID, note="intern commit", log_m="intern commit log")}


@step("branch_without_name")
def _():
    child = rmt.branch(res.UUID, note="intern branch")
    return {"child": child}


@step("repo_info_after")
def _():
    return {"info": rmt.get_info(RepositoryResource(UUID=res.UUID))}


print(json.dumps({"uuid": res.UUID, "name": name, "steps": steps, "requests": requests.__version__}))
