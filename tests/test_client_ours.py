"""Our dvid.client checked against the third-party clients on the same data: what intern and
dvision wrote, dvid.client reads identically (and what dvision reads as a slice, we read too)."""

import numpy as np

from clients.data import gradient
from dvid.client import DVIDClient
from test_client_dvision import dvision_run  # noqa: F401  (module-scoped fixture reused here)
from test_client_intern import intern_run  # noqa: F401


def test_reads_what_intern_wrote(server, intern_run):  # noqa: F811
    c = DVIDClient(server.url)
    uuid, name = intern_run["uuid"], intern_run["name"]
    vol = gradient((64, 64, 64), seed=3)
    assert np.array_equal(c.raw(uuid, name, (64, 64, 64)), vol)
    assert np.array_equal(c.raw(uuid, name, (20, 10, 5), (7, 9, 11)), vol[11:16, 9:19, 7:27])
    info = c.info(uuid, name)
    assert info["Extended"]["MinPoint"] == [0, 0, 0] and info["Extended"]["MaxPoint"] == [63, 63, 63]


def test_reads_what_dvision_wrote(server, dvision_run):  # noqa: F811
    c = DVIDClient(server.url)
    uuid = dvision_run["uuid"]
    vol = gradient((64, 64, 64), seed=5)
    assert np.array_equal(c.raw(uuid, "grayscale", (64, 64, 64)), vol)
    # the size-1 slice dvision asked for (10_10_1 at z=3) is the same through our client
    assert np.array_equal(c.raw(uuid, "grayscale", (10, 10, 1), (0, 0, 3))[0], vol[3, :10, :10])
