"""Codec throughput on EM-like 32³ uint8 blocks and 1024² slice image encode times.

Not a test: prints figures so codec/library choices (perf.md §2) can be re-checked on this machine.
EM-like data = uniform noise smoothed by a small separable box blur (numpy only), like perf.md's test data.
"""

from __future__ import annotations

import time

import numpy as np

from dvid.codecs import block, images


def em_like(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Noise blurred with a 3-tap separable box along each axis: textured, poorly compressible."""
    a = np.random.default_rng(seed).integers(0, 256, shape).astype(np.float32)
    for ax in range(a.ndim):
        a = (np.roll(a, 1, ax) + a + np.roll(a, -1, ax)) / 3.0
    return np.clip(a, 0, 255).astype(np.uint8)


def _rate(fn, nbytes: int, reps: int) -> float:
    t = time.perf_counter()
    for _ in range(reps):
        fn()
    return nbytes * reps / (time.perf_counter() - t) / 1e6


def main() -> None:
    blk = em_like((32, 32, 32)).tobytes()
    out = bytearray(len(blk))
    reps = 300
    for comp in ("none", "lz4", "snappy", "gzip:1", "gzip", "jpeg"):
        for ck in ("none", "crc32"):
            val = block.serialize(blk, comp, ck)
            enc = _rate(lambda c=comp, k=ck: block.serialize(blk, c, k), len(blk), reps)
            dec = _rate(lambda v=val: block.deserialize_into(v, out), len(blk), reps)
            print(f"{comp:7s} {ck:6s} ratio {len(blk) / len(val):5.2f}  enc {enc:8.1f} MB/s  dec {dec:8.1f} MB/s")
    sl = em_like((1024, 1024), seed=1)
    for fmt in ("png", "jpg", "tif", "bmp"):
        t = time.perf_counter()
        for _ in range(5):
            data, _ = images.encode_image(sl, fmt)
        enc_ms = (time.perf_counter() - t) / 5 * 1e3
        t = time.perf_counter()
        for _ in range(5):
            images.decode_image(data)
        dec_ms = (time.perf_counter() - t) / 5 * 1e3
        print(f"1024² {fmt:4s} {len(data):8d} B  enc {enc_ms:6.1f} ms  dec {dec_ms:6.1f} ms")


if __name__ == "__main__":
    main()
