"""The object-store layout on a real SeaweedFS: a front end killed with SIGKILL during concurrent
writes leaves every request whole or absent; two front ends writing different and the same
regions of one version lose nothing; the layout's commits, caching and garbage collection hold on
a real bucket as they do in memory."""

import concurrent.futures as cf
import threading
import time
import uuid as uuidlib

import numpy as np
import pytest
import requests

from dvid.datastore import keys
from dvid.datastore.indexed_view import IndexedView
from dvid.datastore.view import Ancestry
from dvid.storage.indexed import IndexedStore
from dvid.storage.memory import MemoryEngine
from dvid.storage.objects import MemoryObjects
from dvid.storage.s3 import S3Engine
from helpers import get_raw, new_instance, post_raw

pytest_plugins = ["seaweed"]

BS = 32
SIZE = (96, 64, 64)  # 3 x 2 x 2 blocks: each region below spans bricks (128³) and shards (512³)


def origins(n):
    return [(96 * i, 64 * (i % 3), 0) for i in range(n)]


def post(base, off, value, timeout=30):
    return post_raw(base, np.full(SIZE[::-1], value, np.uint8), off, timeout=timeout)


def read(base, off):
    return get_raw(base, SIZE, off).ravel()


def test_sigkill_during_concurrent_writes_leaves_whole_requests(server_factory, seaweed):
    srv = server_factory(workers=2, store_section=seaweed.toml("crash", uuidlib.uuid4().hex))
    uuid = srv.new_repo()
    base = new_instance(srv, uuid, "g")
    regions = origins(6)
    acked = {r: [0] for r in regions}  # values whose POST returned 200, in order
    sent = {r: [0] for r in regions}
    stop = threading.Event()

    def writer(i, off):
        value = 10 * i + 1
        while not stop.is_set():
            sent[off].append(value)
            try:
                if post(base, off, value).status_code == 200:
                    acked[off].append(value)
            except requests.RequestException:
                return
            value += 1

    ts = [threading.Thread(target=writer, args=(i, off)) for i, off in enumerate(regions)]
    for t in ts:
        t.start()
    time.sleep(2.5)
    srv.kill()
    stop.set()
    for t in ts:
        t.join()
    srv.start()
    for off in regions:
        got = read(base, off)
        assert got.min() == got.max(), f"request at {off} is partly visible"
        value = int(got[0])
        assert value in sent[off][sent[off].index(acked[off][-1]):], (off, value, acked[off][-3:])
    assert sum(len(a) for a in acked.values()) > len(regions)  # the test did write under load
    assert post(base, regions[0], 99).ok and read(base, regions[0]).min() == 99  # still writable


@pytest.fixture(scope="module")
def front_ends(server_factory, seaweed):
    section = seaweed.toml("shared", uuidlib.uuid4().hex)
    return server_factory(workers=2, store_section=section), server_factory(workers=2, store_section=section)


def test_two_front_ends_write_different_and_same_regions(front_ends):
    a, b = front_ends
    uuid = a.new_repo()
    base_a = new_instance(a, uuid, "g")
    base_b = f"{b.url}/api/node/{uuid}/g"
    mine = [origins(8)[:4], origins(8)[4:]]
    shared = (0, 0, 128)
    written: list[int] = []

    def work(base, k):
        for j, off in enumerate(mine[k]):
            assert post(base, off, 100 + 10 * k + j).status_code == 200
        for j in range(4):
            v = 200 + 10 * k + j
            written.append(v)
            assert post(base, shared, v).status_code == 200

    with cf.ThreadPoolExecutor(4) as ex:
        list(ex.map(lambda args: work(*args), [(base_a, 0), (base_b, 1)]))
    for base in (base_a, base_b):
        for k in (0, 1):
            for j, off in enumerate(mine[k]):
                assert set(read(base, off).tolist()) == {100 + 10 * k + j}
        got = read(base, shared)
        assert got.min() == got.max() and int(got[0]) in written
    assert int(read(base_a, shared)[0]) == int(read(base_b, shared)[0])


@pytest.fixture(params=["memory", "s3"])
def objects(request):
    if request.param == "memory":
        yield MemoryObjects()
        return
    eng = S3Engine(**request.getfixturevalue("seaweed").options("layout", uuidlib.uuid4().hex))
    yield eng.objects
    eng.close()


def tk(x):
    return keys.tkey(23, keys.zyx_bytes(x, 0, 0))


def test_layout_commits_cache_and_collect_on_a_bucket(objects):
    """Two front ends (two IndexedStores) on one bucket: concurrent commits all land, an open
    version's index is revalidated, a frozen one is read once, and garbage collection keeps every
    object a version can see."""
    prefix = uuidlib.uuid4().hex[:12]
    fe1, fe2 = IndexedStore(objects, prefix, grace=30), IndexedStore(objects, prefix, grace=30)
    eng = MemoryEngine()
    parents = {1: [], 2: [1]}

    def view(fe, v, frozen=()):
        return IndexedView(eng, fe, 5, Ancestry(v, parents), frozen)

    view(fe1, 1).write_batches([[(tk(x), bytes([x]) * 500) for x in range(40)]])
    with cf.ThreadPoolExecutor(4) as ex:  # eight commits from two front ends to one version
        list(ex.map(lambda x: view(fe1 if x % 2 else fe2, 2).put(tk(x), bytes([x + 100]) * 500), range(8)))
    for fe in (fe1, fe2):
        got = {k: bytes(v) for k, v in view(fe, 2, frozen=[1]).scan(tk(0), tk(40))}
        assert got == {tk(x): bytes([x + 100 if x < 8 else x]) * 500 for x in range(40)}
    for _ in range(3):
        view(fe1, 2).write_batches([[(tk(x), bytes([x + 50]) * 500) for x in range(4)]])  # garbage behind
    assert {bytes(v)[0] for _, v in view(fe2, 2).scan(tk(0), tk(4))} == {50, 51, 52, 53}
    t = time.time()
    _, marked = fe1.collect_garbage(now=t + 60)
    deleted, _ = fe2.collect_garbage(now=t + 120)  # another front end sweeps what the first marked
    assert marked > 0 and deleted == marked
    fresh = IndexedStore(objects, prefix)
    want1 = {tk(x): bytes([x]) * 500 for x in range(40)}
    want2 = {**want1, **{tk(x): bytes([x + 100]) * 500 for x in range(8)}, **{tk(x): bytes([x + 50]) * 500
                                                                           for x in range(4)}}
    assert {k: bytes(v) for k, v in view(fresh, 1).scan(tk(0), tk(40))} == want1
    assert {k: bytes(v) for k, v in view(fresh, 2).scan(tk(0), tk(40))} == want2
