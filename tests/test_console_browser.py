"""The web console at ``/`` in headless Chromium (tests/clients/console_driver.py, selenium).

What a person does, checked from the DOM and the screenshots (kept in test-artifacts/): load `/`,
follow a repo to a version, see every version in the DAG picture, see the instances with their
pyramid levels and thumbnails, open one in the embedded neuroglancer (served by us from the
``neuroglancer`` wheel) and find the volume's voxels in the screenshot, at level 0 and, zoomed
out, from the ``_1`` level; watch a ``load`` job's progress change; use write actions only where
the server allows them. No JavaScript console errors anywhere.
"""

from __future__ import annotations

import io
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image

from clients.data import downsample_mean, quadrants, synthetic_em
from clients.runner import ARTIFACTS, ROOT, require_chromium, run_script
from clients.viewer import Shot, make_uint8blk, post_raw
from conftest import DvidServer

pytestmark = pytest.mark.slow

TOL = 18  # JPEG + display rounding


@pytest.fixture(scope="module")
def browser_python():
    return require_chromium()  # the console's neuroglancer is the neuroglancer wheel's, no npm build


def drive(python, scenario: str, timeout: float = 120, **args) -> dict:
    out = run_script(python, "console_driver.py",
                     dict(args, scenario=scenario, shots=str(ARTIFACTS), width=1280, height=800),
                     timeout=timeout)
    for name, path in out.get("shots", {}).items():
        print(f"console screenshot {name}: {path}")
    assert "error" not in out, f"{out['error']} (screenshots: {out.get('shots')}; console: {out.get('console')})"
    return out


def js_errors(out: dict) -> list[str]:
    return [m["message"] for m in out["console"] if m["level"] == "SEVERE"]


def post(base: str, path: str, body: dict) -> dict:
    r = requests.post(base + path, json=body, timeout=30)
    assert r.status_code == 200, (path, r.status_code, r.text)
    return r.json() if r.text else {}


def shot_of(view: dict, console: list[dict]) -> Shot:
    image = np.asarray(Image.open(view["shot"]).convert("RGB"))
    return Shot(path=view["shot"], image=image, panel=view["panel"], ready=view["ready"], console=console)


def quadrant_values(z_block_odd: bool, invert: bool = False) -> dict[tuple[int, int], int]:
    """quadrants(): 20 + 160*bx + 40*by (+10 for odd z blocks), per screen quadrant around the centre."""
    v = {(-1, -1): 20, (1, -1): 180, (-1, 1): 60, (1, 1): 220}
    return {k: (255 - (x + 10 * z_block_odd)) if invert else x + 10 * z_block_odd for k, x in v.items()}


def _browse(server, browser_python) -> dict:
    """A repo with versions on two branches, a 3-level pyramid and non-image instances, browsed once."""
    base = server.url
    root = server.new_repo("fly-em", "a test connectome volume")
    vol = quadrants((128, 128, 128))
    make_uint8blk(base, root, "grayscale", "jpeg", vol)
    # levels 1 and 2 hold the INVERTED pattern at half and quarter resolution, so a screenshot tells
    # which level neuroglancer drew
    make_uint8blk(base, root, "grayscale_1", "jpeg", 255 - quadrants((64, 64, 64), square=32))
    level2 = np.zeros((64, 64, 64), np.uint8)  # writes are block-aligned: 32³ of data in one 64³ block
    level2[:32, :32, :32] = 255 - quadrants((32, 32, 32), square=16)
    make_uint8blk(base, root, "grayscale_2", "jpeg", level2)
    em = synthetic_em((64, 256, 256))  # something that looks like data, for the README screenshot
    for level in range(3):
        post(base, f"/api/repo/{root}/instance", {"typename": "uint8blk", "dataname": "em" + (f"_{level}" if level else ""),
             "BlockSize": "32,32,32", "VoxelSize": ",".join([str(4 << level)] * 2 + [str(40 << max(0, level - 2))])})
        padded = np.zeros(tuple(-(-n // 32) * 32 for n in em.shape), np.uint8)
        padded[: em.shape[0], : em.shape[1], : em.shape[2]] = em
        post_raw(base, root, "em" + (f"_{level}" if level else ""), padded)
        em = downsample_mean(em) if level < 2 else em
    post(base, f"/api/repo/{root}/instance", {"typename": "uint16blk", "dataname": "em16"})
    post(base, f"/api/repo/{root}/instance", {"typename": "roi", "dataname": "mito-roi"})
    post(base, f"/api/node/{root}/commit", {"note": "raw stack, aligned"})
    v1 = post(base, f"/api/node/{root}/newversion", {"note": "proofreading 1"})["child"]
    # the child's data differs, so the root's view proves the version is the one asked for
    make_uint8blk(base, v1, "other", "lz4", np.full((64, 64, 64), 7, np.uint8))
    r = requests.post(f"{base}/api/node/{v1}/grayscale/raw/0_1_2/128_128_128/0_0_0",
                      data=np.full((128, 128, 128), 99, np.uint8).tobytes(), timeout=30)
    assert r.status_code == 200, r.text
    post(base, f"/api/node/{v1}/commit", {"note": "proofreading 1 done"})
    v2 = post(base, f"/api/node/{v1}/newversion", {"note": "proofreading 2"})["child"]
    post(base, f"/api/node/{v2}/commit", {"note": "proofreading 2: 1,204 merges"})
    v3 = post(base, f"/api/node/{v2}/newversion", {"note": "proofreading 3, in progress"})["child"]
    b1 = post(base, f"/api/node/{v1}/branch", {"branch": "alignment-fix", "note": "re-align z 40-60"})["child"]
    post(base, f"/api/node/{b1}/commit", {"note": "slices 40-60 re-aligned"})
    b2 = post(base, f"/api/node/{b1}/newversion", {"note": "check the seams"})["child"]
    out = drive(browser_python, "browse", base=base, root=root, uuid=root, instance="grayscale", zoom=2)
    nodes = requests.get(f"{base}/api/repo/{root}/info", timeout=30).json()["DAG"]["Nodes"]
    if os.environ.get("DVID_UPDATE_SCREENSHOT"):  # the README's picture, from this real run
        shutil.copy(out["shots"]["console-repo-leaf"], ROOT / "docs" / "console.png")
    return {"out": out, "root": root, "v1": v1, "v2": v2, "v3": v3, "b1": b1, "b2": b2, "nodes": nodes, "vol": vol,
            "base": base}


def _overview_shows_server_stores_and_load(browsed):
    ov = browsed["out"]["overview"]
    assert "python-" in ov["server"] and "127.0.0.1:" in ov["server"]
    assert "lmdb" in ov["stores"] and "default" in ov["stores"]
    assert "GET/s" in ov["load"]
    assert "console-overview" in browsed["out"]["shots"]


def _dag_lists_every_version_with_branch_state_and_leaves(browsed):
    dag = {d["uuid"]: d for d in browsed["out"]["dag"]}
    nodes = browsed["nodes"]
    assert set(dag) == set(nodes), "the DAG picture must show every version"
    for uuid, n in nodes.items():
        d = dag[uuid]
        assert d["branch"] == n["Branch"] and d["locked"] == n["Locked"], (d, n)
        assert uuid[:8] in d["text"]
    leaves = {u for u, d in dag.items() if d["leaf"]}
    assert leaves == {browsed["v3"], browsed["b2"]}, "the leaf of each branch is marked"
    assert "master" in dag[browsed["v3"]]["text"] and "alignment-fix" in dag[browsed["b2"]]["text"]
    assert "raw stack, aligned" in dag[browsed["root"]]["text"]  # the note
    assert "open" in dag[browsed["v3"]]["text"] and "open" not in dag[browsed["v2"]]["text"]


def _version_panel_lists_instances_with_levels_and_thumbnails(browsed):
    out = browsed["out"]
    assert browsed["root"] in out["panel_text"] and "committed" in out["panel_text"]
    rows = {r["name"]: r for r in out["instances"]}
    # the _N levels sit next to their base, not as rows of their own
    assert set(rows) == {"grayscale", "em", "em16", "mito-roi", "other"}, sorted(rows)
    assert rows["em"]["chips"] == ["0", "1", "2"] and rows["em"]["thumb"]["level"] == "1"  # 128² of level 1
    g = rows["grayscale"]
    assert g["levels"] == 3 and g["chips"] == ["0", "1", "2"]
    assert "uint8blk · jpeg" in g["cells"][1]
    assert "block 64³" in g["cells"][3] and "voxel 8³ nm" in g["cells"][3]
    assert "128 × 128 × 128" in g["extents"] and "(0, 0, 0) – (127, 127, 127)" in g["extents"]
    assert g["open"] == {"disabled": False, "title": g["open"]["title"]} and "3 level" in g["open"]["title"]
    assert rows["other"]["extents"].startswith("empty")  # written only at a later version
    assert rows["em16"]["open"]["disabled"] and "uint8blk" in rows["em16"]["open"]["title"]
    assert rows["mito-roi"]["thumb"] is None and rows["mito-roi"]["open"] is None
    # the thumbnail is the central xy slice of the root's data, as the server's JPEG
    t = g["thumb"]
    assert t["complete"] and (t["w"], t["h"]) == (128, 128) and t["level"] == "0", t
    img = np.asarray(Image.open(io.BytesIO(requests.get(browsed["base"] + t["src"], timeout=30).content)))
    assert np.abs(img.astype(int) - browsed["vol"][64].astype(int)).max() <= TOL


def _open_in_neuroglancer_shows_the_version_at_every_level(browsed):
    out, root = browsed["out"], browsed["root"]
    viewer = out["viewer"]
    assert viewer["src"].endswith(f"/neuroglancer/v/{root}@grayscale/"), viewer["src"]
    assert "3 levels" in viewer["title"]
    preset = viewer["preset"]
    assert preset["ready"], f"neuroglancer never reported all visible chunks loaded ({preset['shot']})"
    layer = preset["state"]["layers"][0]
    assert layer["source"].startswith("dvid://http://127.0.0.1:") and layer["source"].endswith(f"/{root}/grayscale")
    assert preset["state"]["dimensions"]["x"] == [8e-9, "m"]
    assert preset["state"]["position"] == [64, 64, 64.5]
    shot = shot_of(preset, out["console"])
    # level 0 at the root (the child's 99 everywhere must not show): z=64 is an odd z block
    for (sx, sy), want in quadrant_values(True).items():
        got = shot.gray(60 * sx, 60 * sy)
        assert abs(got - want) <= TOL, f"pixel {sx * 60},{sy * 60} from the centre is {got}, want {want} ({shot.path})"
    # zoomed out to 2 voxels per pixel neuroglancer draws from grayscale_1 (the inverted pattern)
    zoomed = viewer["zoomed"]
    assert zoomed["ready"], zoomed["shot"]
    shot = shot_of(zoomed, out["console"])
    for (sx, sy), want in quadrant_values(True, invert=True).items():
        got = shot.gray(16 * sx, 16 * sy)
        assert abs(got - want) <= TOL, f"zoomed out, pixel {sx * 16},{sy * 16} is {got}, want {want} ({shot.path})"


def _api_help_lists_core_and_datatype_endpoints(browsed):
    out = browsed["out"]
    paths = {p for _, p in out["help_core"]}
    for must in ("/api/repos/info", "/api/repo/{uuid}/info", "/api/node/{uuid}/commit", "/api/server/jobs",
                 "/api/node/{uuid}/{name}/{keyword}/...", "/api/help/{type}"):
        assert must in paths
    assert {"uint8blk", "rgba8blk", "uint16blk", "roi"} <= set(out["help_types"])
    assert "uint8blk" in out["help_uint8blk"] and "raw/<dims>" in out["help_uint8blk"]


def _no_javascript_errors_while_browsing(browsed):
    assert not js_errors(browsed["out"]), js_errors(browsed["out"])


def test_browse_a_repo_to_a_version_and_open_it_in_neuroglancer(server, browser_python):
    """One browser run (xdist would repeat a module fixture per worker), checked part by part."""
    browsed = _browse(server, browser_python)
    _overview_shows_server_stores_and_load(browsed)
    _dag_lists_every_version_with_branch_state_and_leaves(browsed)
    _version_panel_lists_instances_with_levels_and_thumbnails(browsed)
    _open_in_neuroglancer_shows_the_version_at_every_level(browsed)
    _api_help_lists_core_and_datatype_endpoints(browsed)
    _no_javascript_errors_while_browsing(browsed)


def _pngs(tmp_path, n: int) -> str:
    import imagecodecs

    rng = np.random.default_rng(1)
    for k in range(n):
        img = rng.integers(0, 255, (1024, 1024), dtype=np.uint8)
        (tmp_path / f"s{k:03d}.png").write_bytes(imagecodecs.png_encode(img, level=1))
    (tmp_path / "s500-broken.png").write_bytes(b"not an image at all")
    return str(tmp_path / "*.png")


def test_job_progress_updates_while_load_runs(server, repo, browser_python, tmp_path):
    # gzip of 128 MiB of random data keeps the load busy for seconds (the page polls every 0.4 s); progress advances per 16 files
    post(server.url, f"/api/repo/{repo}/instance",
         {"typename": "uint8blk", "dataname": "stack", "BlockSize": "16,16,16", "Compression": "gzip"})
    files = _pngs(tmp_path, 128)
    before = [j["id"] for j in requests.get(server.url + "/api/server/jobs", timeout=30).json()]
    cmd = [sys.executable, "-m", "dvid.cli.main", f"-rpc={server.rpc}", "node", repo, "stack", "load", "0,0,0", files]
    out = drive(browser_python, "jobs", base=server.url, command=cmd, ignore=before)
    print("samples:", [(s["t"], s["state"], s["done"]) for s in out["samples"]])
    running = [s for s in out["samples"] if s["state"] == "running"]
    partial = {s["done"] for s in running if 0 < s["done"] < 129}
    assert len(partial) >= 2, f"progress seen while running: {out['samples']} ({out['shots']})"
    assert [s["done"] for s in out["samples"]] == sorted(s["done"] for s in out["samples"])
    job = [j for j in out["final"] if j["id"] not in before][0]
    rec = requests.get(f"{server.url}/api/server/jobs/{job['id']}", timeout=30).json()
    assert rec["files_done"] == 129 and job["done"] == 129
    assert job["state"] == rec["state"] == "failed"  # one file was not an image
    assert "1 error" in job["errors"] and any("s500-broken.png" in e for e in job["errorItems"]), job
    assert not js_errors(out), js_errors(out)


def _big_repo(db: Path) -> tuple[str, set[str]]:
    """300 versions on 4 branches and 100 instances, made with the datastore's own API straight
    into the store the server will open before it starts: the 700 metadata changes cost no HTTP
    round trips (each writes only the records it changes, per repo under a generation record)."""
    from dvid.datastore.manager import Datastore
    from dvid.datatypes import registry
    from dvid.storage import open_engine

    ds = Datastore(open_engine("lmdb", {"path": str(db), "sync": False}), registry.all_types())
    try:
        root = ds.new_repo("big", "300 versions, 100 instances").root
        ds.commit(ds.resolve(root), "v0")
        cur, made, leaves = root, 1, set()
        while made < 300:
            if made % 75 == 0:  # a branch now and then, from the current master version
                b = ds.branch(ds.resolve(cur), f"branch-{made}", f"branch-{made} start")
                ds.commit(ds.resolve(b), "")
                leaves.add(b)
            else:
                cur = ds.new_version(ds.resolve(cur), f"edit {made}")
                if made < 299:
                    ds.commit(ds.resolve(cur), f"edit {made} done")
            made += 1
        ds.set_node_note(ds.resolve(cur), "the open master version")
        for i in range(100):  # last: every metadata change above costs less without them
            ds.new_instance(ds.resolve(cur), "uint8blk", f"vol{i:03d}", {})
        return root, leaves | {cur}
    finally:
        ds.close()


def test_hundreds_of_versions_and_instances(tmp_path, browser_python):
    """The DAG of 300 versions stays one picture that draws in milliseconds; 100 instances list."""
    srv = DvidServer(tmp_path, store_section='engine = "lmdb"\npath = "db"\nsync = false\n')
    root, leaves = _big_repo(tmp_path / "db")
    srv.start()
    try:
        t0 = time.monotonic()
        out = drive(browser_python, "big", base=srv.url, root=root, find="edit 12")
        print(f"300 versions / 100 instances: open {out['open_ms']:.0f} ms (DAG drawn in {out['draw_ms']} ms), "
              f"select the oldest {out['select_ms']:.0f} ms; browser run {time.monotonic() - t0:.1f} s")
    finally:
        srv.stop()
    assert out["dag_nodes"] == 300 and set(out["leaves"]) == leaves
    assert out["svg_height"] >= 300 * 20
    assert out["found"] == 11, out["found"]  # "edit 12", "edit 120".."edit 129"
    assert out["instance_rows"] == 100
    assert not js_errors(out), js_errors(out)


def test_write_actions_need_the_admin_token(server_factory, browser_python):
    srv = server_factory(extra_toml='admintoken = "s3cret-token"')
    root = srv.new_repo("guarded", "writes need the token")
    out = drive(browser_python, "writes", base=srv.url, root=root, uuid=root, token="s3cret-token",
                note="committed from the console", branch="console-branch")
    assert out["before"]["buttons"] == [] and "admin token" in out["before"]["note"]
    assert out["after_token"]["buttons"] == ["commit"]
    nodes = requests.get(f"{srv.url}/api/repo/{root}/info", timeout=30).json()["DAG"]["Nodes"]
    assert nodes[root]["Locked"] and nodes[root]["Note"] == "committed from the console"
    child = out["child"]
    assert nodes[child]["Parents"] == [nodes[root]["VersionID"]] and not nodes[child]["Locked"]
    branch = [n for n in nodes.values() if n["Branch"] == "console-branch"]
    assert len(branch) == 1 and branch[0]["Note"] == "a branch from the console"
    assert {d["uuid"] for d in out["dag"]} == set(nodes)
    assert not js_errors(out), js_errors(out)


def test_read_only_server_offers_no_write_actions(server_factory, browser_python):
    srv = server_factory()
    root = srv.new_repo("frozen", "")
    srv.stop()
    (srv.config_path).write_text(srv.config_path.read_text().replace("[server]\n", '[server]\nrwMode = "readonly"\n', 1))
    srv.start()
    out = drive(browser_python, "writes", base=srv.url, root=root, uuid=root)
    assert out["before"]["buttons"] == [] and out["after_token"]["buttons"] == []
    assert out["before"]["mode"] == "read-only" and "read-only" in out["before"]["note"]
    assert not js_errors(out), js_errors(out)
