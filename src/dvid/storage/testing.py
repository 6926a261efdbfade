"""The contract every storage engine must pass, as a pytest test class to subclass.

Usage (one subclass per engine, in ``tests/``)::

    class TestMyEngine(EngineContract):
        @pytest.fixture
        def factory(self, tmp_path):
            engines = []
            def open_again():          # opens (or reopens) the same store
                engines.append(MyEngine(tmp_path / "db"))
                return engines[-1]
            yield open_again
            for e in engines:
                e.close()

Class attributes say what the engine promises beyond the common contract. Engine-specific tests
(failure injection, options) belong in the subclass. Needs pytest, so import it from tests only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from dvid.storage.base import Engine, Reader

Factory = Callable[[], Engine]


class EngineContract:
    #: a closed store reopened at the same location sees everything written (not the memory engine)
    persistent: bool = True
    #: ``snapshot()`` does not see writes made after it opened (LMDB's read transaction)
    isolated_snapshots: bool = False
    #: keys written by the long-scan test: more than an LMDB scan chunk (2048) and two S3 LIST pages
    long_scan_keys: int = 2500

    @pytest.fixture
    def factory(self) -> Factory:
        raise NotImplementedError("a subclass of EngineContract must define the factory fixture")

    def test_byte_order_and_ranges(self, factory: Factory) -> None:
        e = factory()
        ks = [b"\x00", b"\x00\x00", b"\x00\xff", b"\x01", b"\x01\x00", b"a", b"ab", b"b", b"\xff", b"\xff\xff"]
        e.write(puts=[(k, k + b"!") for k in reversed(ks)])
        assert [k for k, _ in e.scan(b"\x00", b"\xff\xff\xff")] == sorted(ks)
        assert [k for k, _ in e.scan(b"\x00\xff", b"ab")] == [b"\x00\xff", b"\x01", b"\x01\x00", b"a"]
        assert list(e.scan(b"c", b"c")) == [] and list(e.scan(b"z", b"a")) == []
        assert dict(e.scan(b"a", b"b")) == {b"a": b"a!", b"ab": b"ab!"}
        assert [k for k, v in e.scan(b"a", b"c", keys_only=True)] == [b"a", b"ab", b"b"]
        assert e.get(b"ab") == b"ab!" and e.get(b"nope") is None
        assert e.get_many([b"b", b"nope", b"a"]) == [b"b!", None, b"a!"]

    def test_long_scans_cross_chunks(self, factory: Factory) -> None:
        e = factory()
        n = self.long_scan_keys
        e.write(puts=[(b"k" + i.to_bytes(4, "big"), i.to_bytes(4, "big")) for i in range(n)])
        got = list(e.scan(b"k", b"l"))
        assert len(got) == n and [int.from_bytes(v, "big") for _, v in got] == list(range(n))
        lo, hi = 100, n - 100
        assert len(list(e.scan(b"k" + lo.to_bytes(4, "big"), b"k" + hi.to_bytes(4, "big")))) == hi - lo

    def test_batches_delete_before_put_and_delete_range(self, factory: Factory) -> None:
        e = factory()
        e.write(puts=[(b"x1", b"1"), (b"x2", b"2"), (b"x3", b"3")])
        e.write(puts=[(b"x2", b"new")], deletes=[b"x1", b"x2"])
        assert e.get(b"x1") is None and e.get(b"x2") == b"new"
        assert e.delete_range(b"x", b"y") == 2 and list(e.scan(b"x", b"y")) == []

    def test_compare_and_set(self, factory: Factory) -> None:
        e = factory()
        assert e.compare_and_set(b"m", None, b"v1")
        assert not e.compare_and_set(b"m", None, b"v2")
        assert not e.compare_and_set(b"m", b"wrong", b"v2")
        assert e.compare_and_set(b"m", b"v1", b"v2") and e.get(b"m") == b"v2"
        assert e.compare_and_set(b"m", b"v2", None) and e.get(b"m") is None

    def test_compare_and_write(self, factory: Factory) -> None:
        e = factory()
        if not e.supports_compare_and_write:
            with pytest.raises(NotImplementedError):
                e.compare_and_write(b"m", None, b"v1", puts=[(b"r", b"1")])
            return
        e.put(b"old", b"x")
        assert not e.compare_and_write(b"m", b"wrong", b"v1", puts=[(b"r", b"1")], deletes=[b"old"])
        assert e.get(b"m") is None and e.get(b"r") is None and e.get(b"old") == b"x"
        assert e.compare_and_write(b"m", None, b"v1", puts=[(b"r", b"1")], deletes=[b"old"])
        assert (e.get(b"m"), e.get(b"r"), e.get(b"old")) == (b"v1", b"1", None)
        assert e.compare_and_write(b"m", b"v1", None, deletes=[b"r"])
        assert e.get(b"m") is None and e.get(b"r") is None

    def test_concurrent_cas_never_loses_updates(self, factory: Factory) -> None:
        e = factory()
        e.put(b"ctr", b"0")

        def bump(n: int) -> None:
            for _ in range(n):
                while True:
                    cur = e.get(b"ctr")
                    assert cur is not None
                    if e.compare_and_set(b"ctr", cur, str(int(cur) + 1).encode()):
                        break

        ts = [threading.Thread(target=bump, args=(10,)) for _ in range(3)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert e.get(b"ctr") == b"30"

    def test_reopen_sees_data(self, factory: Factory) -> None:
        if not self.persistent:
            pytest.skip("this engine keeps nothing after close")
        e = factory()
        e.write(puts=[(b"p%d" % i, b"v%d" % i) for i in range(10)])
        e.close()
        e2 = factory()
        assert e2.get(b"p7") == b"v7" and len(list(e2.scan(b"p", b"q"))) == 10

    def test_readers_while_writing(self, factory: Factory) -> None:
        e = factory()
        e.write(puts=[(b"r%03d" % i, b"A" * 100) for i in range(100)])
        stop = threading.Event()
        errors = []

        def reader() -> None:
            while not stop.is_set():
                vals = {v for _, v in e.scan(b"r", b"s")}
                if not vals <= {b"A" * 100, b"B" * 100}:
                    errors.append(vals)

        ts = [threading.Thread(target=reader) for _ in range(2)]
        for t in ts:
            t.start()
        for i in range(0, 100, 10):
            e.write(puts=[(b"r%03d" % j, b"B" * 100) for j in range(i, i + 10)])
        stop.set()
        for t in ts:
            t.join()
        assert not errors and {v for _, v in e.scan(b"r", b"s")} == {b"B" * 100}

    def test_snapshot_reads_match(self, factory: Factory) -> None:
        """A read snapshot is a ``Reader`` that sees what scan/get see; values it returned stay valid
        inside the ``with`` block; on engines with isolated snapshots later writes are not seen."""
        e = factory()
        items = [(b"s%03d" % i, bytes([i]) * (100 + i)) for i in range(50)]
        e.write(puts=items)
        with e.snapshot() as snap:
            assert isinstance(snap, Reader)
            held = list(snap.scan(b"s", b"t"))
            assert [(k, bytes(v)) for k, v in held] == items
            got = snap.get(b"s007")
            assert got is not None and bytes(got) == items[7][1] and snap.get(b"nope") is None
            assert [bytes(v) if v is not None else None for v in snap.get_many([b"s001", b"x"])] == [items[1][1], None]
            assert [k for k, _ in snap.scan(b"s010", b"s013", keys_only=True)] == [b"s010", b"s011", b"s012"]
            if self.isolated_snapshots:
                e.write(puts=[(b"s000", b"changed")])
                first = snap.get(b"s000")
                assert first is not None and bytes(first) == items[0][1]
            assert [(k, bytes(v)) for k, v in held][1:] == items[1:]  # buffers still valid
