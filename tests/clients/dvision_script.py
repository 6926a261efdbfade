"""Exercise dvision 0.1.1 against a server (run with .venv-dvision's python, numpy<2).

stdin: {"url": "http://127.0.0.1:PORT"}.  Every step runs even if an earlier one failed;
stdout's last line is {"uuid": ..., "steps": {name: {"ok": bool, ...}}}.
"""

import json
import sys
import traceback
from pathlib import Path
from urllib.parse import urlsplit

import dvision
import numpy as np
from dvision import DVIDConnection, DVIDDataInstance

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data import gradient  # noqa: E402

args = json.loads(sys.stdin.read())
parts = urlsplit(args["url"])
host, port = parts.hostname, parts.port
# dvision refuses POSTs to hosts outside its whitelist (['slowpoke1', 'slowpoke3']).
dvision.dvid_requester.whitelist.append(host)
name = args.get("name", "grayscale")
steps = {}
ctx = {}


def step(label):
    def deco(fn):
        try:
            steps[label] = {"ok": True, **(fn() or {})}
        except Exception as e:
            steps[label] = {
                "ok": False,
                "error_type": f"{type(e).__module__}.{type(e).__name__}",
                "error": str(e)[:2000],
                "trace": traceback.format_exc()[-3000:],
            }
        return fn

    return deco


vol = gradient((64, 64, 64), seed=5)


@step("create_repo")
def _():
    repo = DVIDConnection(host, port).create_repo("dvision-alias", "dvision test repo")
    ctx["repo"] = repo
    return {"uuid": repo.root_uuid}


@step("create_instance")
def _():
    ctx["inst"] = ctx["repo"].create_data_instance(name, "uint8blk")


@step("info_before_write")
def _():
    # a fresh object: dvision caches /info forever
    inst = DVIDDataInstance(host, port, ctx["repo"].root_uuid, name)
    return {"dtype": str(inst.dtype), "shape": list(inst.shape)}


@step("post_raw")
def _():
    ctx["inst"][0:64, 0:64, 0:64] = vol


@step("post_raw_offset")
def _():
    # a second, block-aligned write further along x (z, y, x slices)
    ctx["inst"][0:32, 0:32, 64:96] = vol[:32, :32, :32]


@step("info_after_write")
def _():
    inst = DVIDDataInstance(host, port, ctx["repo"].root_uuid, name)
    return {"dtype": str(inst.dtype), "shape": list(inst.shape), "info": inst.info}


def compare(got, want):
    return {
        "shape": list(got.shape),
        "want_shape": list(want.shape),
        "equal": bool(got.shape == want.shape and np.array_equal(got, want)),
    }


@step("get_raw")
def _():
    return compare(ctx["inst"][10:20, 5:25, 0:64], vol[10:20, 5:25, 0:64])


@step("get_raw_unaligned")
def _():
    return compare(ctx["inst"][3:41, 7:50, 11:60], vol[3:41, 7:50, 11:60])


@step("get_size1_z")
def _():
    return compare(ctx["inst"][3, 0:10, 0:10], vol[3:4, 0:10, 0:10])


@step("get_size1_xy")
def _():
    return compare(ctx["inst"][0:64, 17, 33], vol[0:64, 17:18, 33:34])


@step("get_second_write")
def _():
    return compare(ctx["inst"][0:32, 0:32, 64:96], vol[:32, :32, :32])


print(json.dumps({"uuid": ctx["repo"].root_uuid if "repo" in ctx else None, "name": name, "steps": steps}))
