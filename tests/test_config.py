"""The TOML config loader: DVID's shape, case-insensitive keys, relative paths, defaults."""

from __future__ import annotations

import os

from dvid.server.config import load_config


def test_dvid_shaped_toml(tmp_path):
    p = tmp_path / "conf.toml"
    p.write_text('[Server]\nHTTPAddress = "127.0.0.1:9000"\nrpcaddress = "127.0.0.1:9001"\n'
                 'note = "hi"\nWorkers = 3\nadminRequiredForRepoCreation = true\n'
                 '[backend.default]\nstore = "main"\n'
                 '[store.main]\nengine = "lmdb"\npath = "data/db"\n')
    cfg = load_config(p)
    assert cfg.http_address == "127.0.0.1:9000" and cfg.rpc_address == "127.0.0.1:9001"
    assert cfg.note == "hi" and cfg.workers == 3 and cfg.admin_required_for_repo_creation
    st = cfg.store()
    assert st.engine == "lmdb"
    assert os.path.realpath(st.options["path"]) == os.path.realpath(tmp_path / "data" / "db")


def test_no_config_defaults():
    cfg = load_config(None)
    assert cfg.http_address == "localhost:8000" and cfg.rpc_address == "localhost:8001"
    assert cfg.store().engine == "lmdb"
    assert os.path.basename(os.path.normpath(cfg.store().options["path"])) == "dvid-data"
