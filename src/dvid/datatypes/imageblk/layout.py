"""An instance's block layout, typed and immutable, built once per request or command.

Everything the hot paths, the ingest writer, export and the handlers need to know about how an
instance's voxels are stored: block size, element type, channels, background, compression,
checksum and physical voxel size. Built from the instance's props (DVID's JSON keys) in one place,
so nothing else reads ``props["BlockSize"]`` and friends by string.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dvid.datastore.instance import Instance
from dvid.datatypes.imageblk.props import VoxelType


@dataclass(frozen=True)
class Layout:
    block_size: tuple[int, int, int]  # x, y, z
    dtype: np.dtype  # little-endian element type
    channels: int  # 4 for rgba8blk, else 1
    #: byte that fills voxels of missing blocks where DVID uses the Background (arb, blocks GET)
    background: int
    compression: str  # normalised DVID setting: none, lz4, gzip[:n], snappy, jpeg
    checksum: str  # none or crc32
    voxel_size: tuple[float, float, float]
    #: "uint8blk", ... (for messages)
    typename: str = ""

    @classmethod
    def of(cls, instance: Instance, vt: VoxelType) -> Layout:
        p = instance.props
        bs = p["BlockSize"]
        vs = p["VoxelSize"]
        return cls((int(bs[0]), int(bs[1]), int(bs[2])), vt.np_dtype, vt.channels, int(p["Background"]),
                   instance.compression, instance.checksum, (float(vs[0]), float(vs[1]), float(vs[2])), vt.name)

    @property
    def bytes_per_voxel(self) -> int:
        return self.dtype.itemsize * self.channels

    @property
    def block_bytes(self) -> int:
        bx, by, bz = self.block_size
        return bx * by * bz * self.bytes_per_voxel

    @property
    def voxel_shape(self) -> tuple[int, ...]:
        """One block as a numpy shape: [z, y, x(, c)]."""
        bx, by, bz = self.block_size
        return (bz, by, bx, self.channels) if self.channels > 1 else (bz, by, bx)

    @property
    def outside_fill(self) -> int:
        """The byte that fills voxels outside an ROI: the Background for 1-byte voxels, else 0."""
        return self.background if self.bytes_per_voxel == 1 else 0

    def array_shape(self, size: tuple[int, int, int]) -> tuple[int, ...]:
        """A box of ``size`` (x, y, z) as a numpy shape: [z, y, x(, c)]."""
        sx, sy, sz = size
        return (sz, sy, sx, self.channels) if self.channels > 1 else (sz, sy, sx)
