"""Metadata persistence shared by every worker process and front end (format 2, ``records.py``).

**Commit.** A mutation runs against this process's catalog of the newest generation, then replaces
the generation record by compare-and-set; if another process committed first it re-reads and
re-runs, so no update is ever lost and the counters in the generation record (repo, version and
instance ids) stay unique across processes. What it writes depends on the engine:

* with ``Engine.compare_and_write`` (LMDB, memory) the generation record and the changed records
  are one atomic write: one LMDB transaction, one fsync, per mutation;
* otherwise (S3: conditional writes of single objects only) the generation record carries the
  records (``pending``), so replacing it is still the whole commit; afterwards they are copied to
  their keys, each by a compare-and-set that never replaces a record of a later generation, and
  whoever commits the next generation first makes sure they are in place, so a crash between the
  commit and the copies loses nothing.

**Refresh.** Every request reads the generation record and compares its first bytes (``refresh``).
Only when the generation changed does the process read anything else: the records named in
``changed`` (or, if it fell further behind than ``changed`` reaches, every record of each repo
whose generation changed), with ``pending`` on top. A record newer than the generation record (a
commit landed while we read) makes it read the generation record again, so a catalog is always
exactly one generation.

**Old stores.** A store written in format 1 (one JSON document under ``keys.LEGACY_META_KEY``) is
migrated on first open: its records are written under a fresh epoch, then the generation record is
created by compare-and-set (so of several processes opening the store at once exactly one migration
wins and the others drop their copy), then the old document is kept under
``keys.LEGACY_META_BACKUP_KEY`` and removed from its key. Servers of the format-1 code must not run
on the store after that: they would not see the migrated metadata.
"""

from __future__ import annotations

import logging
import threading
import uuid as uuidlib
from collections.abc import Callable
from typing import TypeVar

from dvid.datastore import keys, records
from dvid.datastore.catalog import Catalog, CatalogTxn
from dvid.datastore.legacy import State
from dvid.datastore.model import Repo
from dvid.datastore.records import Payload, Root
from dvid.errors import Contended
from dvid.storage.base import Engine, StorageError

T = TypeVar("T")
_MAX_ATTEMPTS = 1000
_MAX_REREADS = 100
log = logging.getLogger("dvid.datastore")


def _new_epoch() -> str:
    return uuidlib.uuid4().hex[:8]


def _empty() -> Catalog:
    return Catalog(Root(epoch=_new_epoch()), None, {})


class Metadata:
    """The current metadata of one store as this process last saw it, and the way to change it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.RLock()
        self.current: Catalog = _empty()
        #: the generation whose ``pending`` records this process knows are in place
        self._applied = 0
        self.current = self._load(self.engine.get(keys.META_ROOT_KEY))

    # ------------------------------------------------------------------------------------ refresh
    def refresh(self) -> None:
        """Adopt what another process committed since we last looked: one small read if nothing."""
        raw = self.engine.get(keys.META_ROOT_KEY)
        if records.header(raw) != self.current.header:
            with self._lock:
                if records.header(raw) != self.current.header:
                    self.current = self._load(raw)

    def _load(self, raw: bytes | None) -> Catalog:
        """The catalog of the newest generation, starting from ``raw`` and the current catalog."""
        if raw is None:
            legacy = self.engine.get(keys.LEGACY_META_KEY)
            if legacy is None:
                return self.current if self.current.raw is None else _empty()
            self._migrate(legacy)
            raw = self.engine.get(keys.META_ROOT_KEY)
            if raw is None:
                raise StorageError("metadata migration left no generation record")
        base = self.current
        for _ in range(_MAX_REREADS):
            root = Root.loads(raw)
            cat, newest = self._build(base, root, raw)
            if newest <= root.gen:
                return cat
            # A commit landed while we read: what we read after it is re-read against its record.
            base = cat
            raw = self.engine.get(keys.META_ROOT_KEY)
            assert raw is not None
        raise StorageError("metadata kept changing while being read; try again")

    def _build(self, base: Catalog, root: Root, raw: bytes) -> tuple[Catalog, int]:
        """``base`` brought to ``root``; also the newest record generation read from the store."""
        if base.root.epoch != root.epoch:
            base = _empty()
        incremental = base.raw is not None and root.since <= base.gen <= root.gen
        newest = 0
        repos = {}
        for uuid, (rid, rgen) in root.repos.items():
            old = base.repos_by_root.get(uuid)
            old_meta = base.root.repos.get(uuid)
            if old is not None and old_meta == (rid, rgen):
                repos[uuid] = old
                continue
            prefix = records.repo_prefix(rid)
            if old is not None and old_meta is not None and old_meta[0] == rid and incremental:
                names = [n for n, g in root.changed.items() if g > base.gen and n.startswith(prefix)]
                got, newest_here = self._read(names, root)
                repos[uuid] = records.patch_repo(old, got)
            else:
                got, newest_here = self._read_repo(rid, root)
                repos[uuid] = records.build_repo(got)
            newest = max(newest, newest_here)
        return Catalog(root, raw, repos), newest

    def _read(self, names: list[str], root: Root) -> tuple[dict[str, Payload | None], int]:
        """Records by name as of ``root``: ``pending`` ones from it, the rest from the store."""
        out: dict[str, Payload | None] = {}
        want = [n for n in names if n not in root.pending]
        newest = 0
        values = self.engine.get_many([keys.meta_record_key(root.epoch, n) for n in want])
        for name, v in zip(want, values, strict=True):
            if v is None:
                out[name] = None
            else:
                newest = max(newest, records.record_gen(v))
                out[name] = records.record_payload(v)
        for name in names:
            if name in root.pending:
                out[name] = root.pending[name]
        return out, newest

    def _read_repo(self, rid: int, root: Root) -> tuple[dict[str, Payload], int]:
        """Every record of one repo as of ``root``."""
        prefix = records.repo_prefix(rid)
        out: dict[str, Payload] = {}
        newest = 0
        lo, hi = keys.meta_record_range(root.epoch, prefix)
        skip = len(keys.meta_record_key(root.epoch, ""))
        for k, v in self.engine.scan(lo, hi):
            name = bytes(k[skip:]).decode()
            if name in root.pending:
                continue
            newest = max(newest, records.record_gen(v))
            out[name] = records.record_payload(v)
        for name, payload in root.pending.items():
            if name.startswith(prefix):
                if payload is None:
                    out.pop(name, None)
                else:
                    out[name] = payload
        return out, newest

    # ----------------------------------------------------------------------------------- mutate
    def mutate(self, fn: Callable[[CatalogTxn], T]) -> T:
        """Run ``fn`` on a copy-on-write view of the newest generation and commit what it changed;
        re-run it if another process committed first."""
        with self._lock:
            for _ in range(_MAX_ATTEMPTS):
                raw = self.engine.get(keys.META_ROOT_KEY)
                if records.header(raw) != self.current.header:
                    self.current = self._load(raw)
                base = self.current
                self._ensure_applied(base)
                txn = CatalogTxn(base)
                result = fn(txn)
                changes, touched = txn.changes()
                if not changes and not touched and not txn.root_fields_changed():
                    return result
                cat = txn.result(base.root, b"", touched)
                repos = {r: (repo.repo_id, base.gen + 1 if r in touched else base.root.repos[r][1])
                         for r, repo in cat.repos_by_root.items()}
                dropped = [(base.root.repos[r][0], base.repos_by_root[r]) for r in touched
                           if r not in repos and r in base.root.repos]
                atomic = self.engine.supports_compare_and_write
                root = base.root.successor((txn.next_repo, txn.next_version, txn.next_instance),
                                           txn.settings, repos, changes, pending=not atomic)
                new_raw = root.dumps()
                if atomic:
                    committed = self._commit_with_records(base, root, new_raw, changes, dropped)
                else:
                    committed = self.engine.compare_and_set(keys.META_ROOT_KEY, base.raw, new_raw)
                if committed:
                    self.current = Catalog(root, new_raw, cat.repos_by_root)
                    if not atomic:
                        self._after_commit(root, [rid for rid, _ in dropped])
                    return result
            raise Contended("metadata is too contended to update; try again")

    def _commit_with_records(self, base: Catalog, root: Root, raw: bytes, changes: dict[str, Payload | None],
                             dropped: list[tuple[int, Repo]]) -> bool:
        """The commit on an engine with ``compare_and_write``: the generation record, the changed
        records and the removal of dropped repos' records in one atomic write."""
        epoch = root.epoch
        puts = [(keys.meta_record_key(epoch, n), records.record_bytes(root.gen, p))
                for n, p in changes.items() if p is not None]
        deletes = [keys.meta_record_key(epoch, n) for n, p in changes.items() if p is None]
        for _, repo in dropped:
            deletes += [keys.meta_record_key(epoch, n) for n in records.repo_records(repo)]
        if not self.engine.compare_and_write(keys.META_ROOT_KEY, base.raw, raw, puts, deletes):
            return False
        self._applied = root.gen
        return True

    def _after_commit(self, root: Root, dropped_repo_ids: list[int]) -> None:
        """Copy the new records to their keys now, so the next committer finds them in place, and
        drop the records of removed repos. A failure here loses nothing (the generation record holds
        the records until the next commit, which puts them in place first)."""
        try:
            self._ensure_applied(self.current)
            for rid in dropped_repo_ids:
                self.engine.delete_range(*keys.meta_record_range(root.epoch, records.repo_prefix(rid)))
        except StorageError as e:
            log.warning("metadata records of generation %d not yet copied: %s", root.gen, e)

    def _ensure_applied(self, cat: Catalog) -> None:
        """Put generation ``cat.gen``'s ``pending`` records in their own keys (idempotent)."""
        if cat.raw is None or cat.gen == self._applied:
            return
        for name, payload in cat.root.pending.items():
            key = keys.meta_record_key(cat.root.epoch, name)
            value = None if payload is None else records.record_bytes(cat.gen, payload)
            self._put_record(key, value, cat.gen)
        self._applied = cat.gen

    def _put_record(self, key: bytes, value: bytes | None, gen: int) -> None:
        """Write one record unless a record of generation ``gen`` or later is there already."""
        for _ in range(_MAX_ATTEMPTS):
            cur = self.engine.get(key)
            if cur is not None and records.record_gen(cur) >= gen:
                return
            if cur is None and value is None:
                return
            if self.engine.compare_and_set(key, cur, value):
                return
        raise StorageError(f"metadata record {key!r} is too contended to write")

    # ---------------------------------------------------------------------------------- migrate
    def _migrate(self, legacy: bytes) -> None:
        """Format 1 -> format 2, as described in the module docstring."""
        state = State.loads(legacy)
        epoch = _new_epoch()
        puts = [(keys.meta_record_key(epoch, name), records.record_bytes(1, payload))
                for repo in state.repos_by_root.values()
                for name, payload in records.repo_records(repo).items()]
        self.engine.write(puts=puts)
        root = Root(gen=1, epoch=epoch, next_repo=state.next_repo, next_version=state.next_version,
                    next_instance=state.next_instance, settings=state.settings,
                    repos={r.root: (r.repo_id, 1) for r in state.repos_by_root.values()}, since=1)
        if self.engine.compare_and_set(keys.META_ROOT_KEY, None, root.dumps()):
            self.engine.put(keys.LEGACY_META_BACKUP_KEY, legacy)
            self.engine.compare_and_set(keys.LEGACY_META_KEY, legacy, None)
            log.info("metadata migrated to per-repo records: %d repos", len(state.repos_by_root))
        else:  # another process migrated first: drop our copy
            self.engine.delete_range(*keys.meta_record_range(epoch, ""))
