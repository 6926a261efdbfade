"""A Python client for DVID-compatible servers: numpy arrays in, numpy arrays out.

    from dvid.client import DVIDClient
    c = DVIDClient("localhost:8000")                 # the scheme may be left out
    vol = c.volume(uuid, "grayscale")                # a handle, sliced like numpy in [z, y, x]
    a = vol[0:64, 100:300, 200:700]                  # any box; missing data reads as 0
    vol[10:74, 0:500, 0:700] = stack                 # any box: partial blocks are read-modify-written
    vol.shape, vol.bounds, vol.dtype, vol.voxel_size # from the instance's info
    low = c.volume(uuid, "grayscale", scale=1)       # pyramid level 1 (instance grayscale_1)

Works against Go DVID too: only the public HTTP API is used, and nothing of the server package is
imported (the import-linter contract in pyproject.toml keeps it so).
"""

from dvid.client.core import DVIDClient
from dvid.client.errors import DVIDConnectionError, DVIDError, ServerBusy, UnsupportedVolume
from dvid.client.volume import Bounds, Volume

__all__ = ["Bounds", "DVIDClient", "DVIDConnectionError", "DVIDError", "ServerBusy", "UnsupportedVolume",
           "Volume"]
