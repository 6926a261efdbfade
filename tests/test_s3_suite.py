"""The core, imageblk and roi HTTP suites, unchanged, against a server whose store is S3 on a real
SeaweedFS: the module-scoped ``server`` fixture below replaces conftest's LMDB one for every test
collected here."""

import uuid as uuidlib

import pytest

from test_imageblk_http import *  # noqa: F403
from test_roi_http import *  # noqa: F403
from test_server_core import *  # noqa: F403

pytest_plugins = ["seaweed"]


@pytest.fixture(scope="module")
def server(server_factory, seaweed):
    return server_factory(store_section=seaweed.toml("suite", uuidlib.uuid4().hex))
