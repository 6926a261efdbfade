"""An S3 bucket as an ``ObjectStore``, through obstore, with one asyncio loop thread per store.

Every bulk call is a coroutine on that loop, so a request's reads (or a commit's uploads) are all
in flight at once, at most ``CONCURRENCY`` requests at a time; callers get
``concurrent.futures.Future``s and keep working meanwhile. Connection settings not given
explicitly come from the ``AWS_*`` environment, which obstore reads itself.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine, Iterator, Sequence
from concurrent.futures import Future
from typing import Any

import obstore as obs
from obstore import exceptions as oerr
from obstore.store import S3Store

from dvid.storage.base import StorageError
from dvid.storage.objects import UNCHANGED, ObjectInfo, ObjectStore, Unchanged

#: requests in flight per store: on our 2-core SeaweedFS more gained nothing (s3-study.md §2-3)
CONCURRENCY = 32
NOT_FOUND = (FileNotFoundError, oerr.NotFoundError)
_LOST_RACE = (FileExistsError, oerr.PreconditionError, oerr.AlreadyExistsError)


class S3Objects(ObjectStore):
    def __init__(self, bucket: str, endpoint: str | None = None, region: str | None = None,
                 access_key: str | None = None, secret_key: str | None = None, allow_http: bool | None = None,
                 **s3_config: Any) -> None:
        """Any obstore ``S3Config`` key may be given besides these; an unknown key is an error."""
        config: dict[str, Any] = dict(s3_config)
        for name, value in (("endpoint", endpoint), ("region", region), ("access_key_id", access_key),
                            ("secret_access_key", secret_key)):
            if value is not None:
                config[name] = value
        #: the endpoint in use, as far as we can tell (for descriptions and the http check)
        self.endpoint = endpoint or os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT")
        client: dict[str, Any] = {}
        if allow_http or (allow_http is None and self.endpoint and self.endpoint.startswith("http://")):
            client["allow_http"] = True
        try:
            self.store = S3Store(bucket, client_options=client, virtual_hosted_style_request=False, **config)
        except oerr.UnknownConfigurationKeyError as e:
            raise StorageError(f"unknown S3 store option in {sorted(s3_config)}: {str(e).splitlines()[0]}") from None
        except Exception as e:
            raise StorageError(f"cannot configure S3 bucket {bucket}: {str(e).splitlines()[0]}") from e
        self._loop = asyncio.new_event_loop()
        self._sem = asyncio.Semaphore(CONCURRENCY)
        self._thread = threading.Thread(target=self._loop.run_forever, name="s3-io", daemon=True)
        self._thread.start()

    def submit(self, coro: Coroutine[Any, Any, Any]) -> Future:
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return self.submit(coro).result()

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    # ------------------------------------------------------------------------------ coroutines
    async def _get(self, name: str, etag: str | None) -> tuple[bytes, str] | Unchanged | None:
        async with self._sem:
            try:
                opts: Any = {"if_none_match": etag} if etag else None
                res = await obs.get_async(self.store, name, options=opts)
                return bytes(await res.bytes_async()), res.meta["e_tag"] or ""
            except oerr.NotModifiedError:
                return UNCHANGED
            except NOT_FOUND:
                return None

    async def _ranges(self, name: str, starts: Sequence[int], ends: Sequence[int]) -> list[memoryview]:
        async with self._sem:
            try:
                got = await obs.get_ranges_async(self.store, name, starts=starts, ends=ends)
            except NOT_FOUND as e:
                raise FileNotFoundError(name) from e
        return [memoryview(b) for b in got]

    async def _put(self, name: str, data: bytes | memoryview) -> None:
        async with self._sem:
            await obs.put_async(self.store, name, data)

    # ------------------------------------------------------------------------------ interface
    def read(self, name: str) -> tuple[bytes, str] | None:
        got = self.run(self._get(name, None))
        assert not isinstance(got, Unchanged)
        return got

    def read_many(self, names: Sequence[str], etags: Sequence[str | None] | None = None
                  ) -> list[Future[tuple[bytes, str] | Unchanged | None]]:
        return [self.submit(self._get(n, etags[i] if etags else None)) for i, n in enumerate(names)]

    def read_ranges(self, name: str, starts: Sequence[int], ends: Sequence[int]) -> Future[list[memoryview]]:
        return self.submit(self._ranges(name, starts, ends))

    def write(self, name: str, data: bytes | memoryview) -> Future[None]:
        return self.submit(self._put(name, data))

    def write_if(self, name: str, data: bytes, etag: str | None) -> str | None:
        try:
            res = obs.put(self.store, name, data, mode="create" if etag is None else {"e_tag": etag})
        except _LOST_RACE:
            return None
        return res["e_tag"] or ""

    def delete(self, names: Sequence[str]) -> None:
        for i in range(0, len(names), 1000):
            obs.delete(self.store, list(names[i : i + 1000]))

    def listing(self, prefix: str) -> Iterator[ObjectInfo]:
        for chunk in obs.list(self.store, prefix=prefix, chunk_size=1000):
            for m in chunk:
                yield ObjectInfo(m["path"], m["size"], m["last_modified"].timestamp())
