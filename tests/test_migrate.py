"""Stores chosen per instance (``[backend.<name>]``, ``[backend.<type>]``, ``[backend.metadata]``) and
``dvid repo <uuid> migrate <instance> <src> <dst>`` from LMDB to S3 on a real SeaweedFS: a job with
progress, writes refused while it runs, every version copied and verified by checksum, and the
instance served from the new store by every worker process without a restart."""

import json
import time
import uuid as uuidlib

import numpy as np
import requests

from dvid.datastore.instance import Instance
from dvid.server.config import Config, StoreConfig
from dvid.server.stores import StoreAssignment
from helpers import get_raw, instance_url, new_instance, post_raw

pytest_plugins = ["seaweed"]


def test_assignment_rules_in_dvid_order():
    cfg = Config(stores={a: StoreConfig(a, "memory") for a in ("d", "byuuid", "byroot", "byname", "bytag", "bytype")},
                 default_store="d",
                 backends={"u-1": "byuuid", "gray:root1": "byroot", "labels": "byname", "kind=em": "bytag",
                           "uint8blk": "bytype"})
    sa = StoreAssignment(cfg, lambda alias: alias)  # type: ignore[arg-type,return-value]

    def inst(**kw):
        return Instance(**{"name": "x", "typename": "roi", "data_uuid": "u-0", "instance_id": 1,
                           "repo_uuid": "root0", **kw})

    assert sa.alias_for(inst(data_uuid="u-1", name="labels", typename="uint8blk")) == "byuuid"
    assert sa.alias_for(inst(name="gray", repo_uuid="root1", typename="uint8blk")) == "byroot"
    assert sa.alias_for(inst(name="labels", typename="uint8blk")) == "byname"
    assert sa.alias_for(inst(tags={"kind": "em"}, typename="uint8blk")) == "bytag"
    assert sa.alias_for(inst(typename="uint8blk")) == "bytype"
    assert sa.alias_for(inst()) == "d"
    assert sa.alias_for(inst(store="bytag", typename="uint8blk")) == "bytag"  # recorded by migrate: first


SIZE = (128, 64, 64)  # x, y, z: the volume the test writes


def section(sw, prefix):
    return ('engine = "lmdb"\npath = "db"\n\n[store.bucket]\n' + sw.toml("migrate", prefix)
            + '\n[backend.metadata]\nstore = "main"\n\n[backend.onbucket]\nstore = "bucket"\n')


def checksum(srv, uuid, name, store):
    got = srv.cli("repo", uuid, "checksum", name, store)
    assert got.returncode == 0, got.stderr
    return json.loads(got.stdout)["versions"]


def test_per_instance_stores_and_migrate_lmdb_to_s3(server_factory, seaweed):
    srv = server_factory(workers=2, store_section=section(seaweed, uuidlib.uuid4().hex))
    root = srv.new_repo()
    onbucket = new_instance(srv, root, "onbucket")
    em = {root: new_instance(srv, root, "em")}
    kv = {n: requests.get(f"{srv.url}/api/node/{root}/{n}/info").json()["Base"]["KVStore"] for n in ("onbucket", "em")}
    assert kv["onbucket"].startswith("s3 @ ") and kv["em"].startswith("lmdb @ ")  # [backend.<name>] chose
    rng = np.random.default_rng(3)
    v1 = rng.integers(0, 256, (64, 64, 128), np.uint8)
    assert post_raw(em[root], v1, (0, 0, 0)).ok and post_raw(onbucket, v1, (0, 0, 0)).ok
    assert get_raw(onbucket, SIZE).tobytes() == v1.tobytes()
    requests.post(f"{srv.url}/api/node/{root}/commit", json={}).raise_for_status()
    child = requests.post(f"{srv.url}/api/node/{root}/newversion").json()["child"]
    em[child] = instance_url(srv, child, "em")
    v2 = np.full((32, 32, 32), 7, np.uint8)
    assert post_raw(em[child], v2, (32, 0, 0)).ok
    before = {u: get_raw(em[u], SIZE).tobytes() for u in (root, child)}
    sums = checksum(srv, root, "em", "main")
    assert len(sums) == 2

    started = srv.cli("--no-wait", "repo", root, "migrate", "em", "main", "bucket")
    assert started.returncode == 0 and "Started migration" in started.stdout, started.stderr
    refused = None
    for _ in range(200):  # writes are refused while the job runs (it waits a second before copying)
        r = post_raw(em[child], v2, (64, 0, 0))
        if r.status_code == 400:
            refused = r.text
            break
        time.sleep(0.02)
    assert refused and "being migrated" in refused
    deadline = time.time() + 120
    while time.time() < deadline:
        jobs = [j for j in requests.get(f"{srv.url}/api/server/jobs").json() if "migrate" in j.get("command", "")]
        if jobs and jobs[-1]["state"] != "running":
            break
        time.sleep(0.2)
    assert jobs[-1]["state"] == "done", jobs[-1]
    assert jobs[-1]["blocks_done"] == jobs[-1]["blocks_total"] > 0 and "verified" in jobs[-1]["message"]

    assert checksum(srv, root, "em", "bucket") == sums == checksum(srv, root, "em", "main")
    for _ in range(4):  # both worker processes serve it from S3 now, no restart
        info = requests.get(f"{srv.url}/api/node/{child}/em/info").json()
        assert info["Base"]["KVStore"].startswith("s3 @ ")
        assert {u: get_raw(em[u], SIZE).tobytes() for u in (root, child)} == before
    assert post_raw(em[child], v2, (64, 0, 0)).ok  # writable again, and written to the bucket
    assert checksum(srv, root, "em", "bucket") != sums and checksum(srv, root, "em", "main") == sums
    srv.restart()
    assert requests.get(f"{srv.url}/api/node/{child}/em/info").json()["Base"]["KVStore"].startswith("s3 @ ")
    assert get_raw(em[root], SIZE).tobytes() == before[root]

    after = checksum(srv, root, "em", "bucket")  # and back, deleting the S3 copy: the indexed layout read
    back = srv.cli("repo", root, "migrate", "em", "bucket", "main", "delete-source=true", timeout=120)
    assert back.returncode == 0, back.stderr
    assert checksum(srv, root, "em", "main") == after and checksum(srv, root, "em", "bucket") == {}
    assert requests.get(f"{srv.url}/api/node/{child}/em/info").json()["Base"]["KVStore"].startswith("lmdb @ ")
    assert get_raw(em[root], SIZE).tobytes() == before[root]

    bad = srv.cli("repo", root, "migrate", "em", "bucket", "main")
    assert bad.returncode != 0 and 'is on store "main", not "bucket"' in (bad.stderr + bad.stdout)
    bad = srv.cli("repo", root, "migrate", "em", "main", "nowhere")
    assert bad.returncode != 0 and 'no store named "nowhere"' in (bad.stderr + bad.stdout)
