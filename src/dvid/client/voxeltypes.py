"""The image types the client reads and writes: DVID type name -> numpy dtype and channels."""

from __future__ import annotations

import numpy as np

from dvid.client.errors import UnsupportedVolume

_DTYPES = {"uint8blk": (np.uint8, 1), "rgba8blk": (np.uint8, 4), "uint16blk": (np.uint16, 1),
           "uint32blk": (np.uint32, 1), "uint64blk": (np.uint64, 1), "float32blk": (np.float32, 1)}


def voxel_type(typename: str, url: str) -> tuple[np.dtype, int]:
    """The numpy dtype and channel count of an image type; other types raise UnsupportedVolume."""
    if typename not in _DTYPES:
        raise UnsupportedVolume(f"{typename} is not an image type ({', '.join(_DTYPES)})", url)
    dt, ch = _DTYPES[typename]
    return np.dtype(dt).newbyteorder("<"), ch
