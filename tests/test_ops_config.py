"""Configuration files and instance settings that catch typos: warnings with the closest known key,
one-line errors (exit 2, no traceback) for wrong types, bad addresses, unknown engines, stores that
cannot open and busy ports."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
import requests

from dvid.server.config import ConfigError, load_config


def _conf(tmp_path, text: str):
    p = tmp_path / "c.toml"
    p.write_text(text)
    return p


def test_typos_and_dvid_only_keys_warn_with_the_closest_key(tmp_path):
    p = _conf(tmp_path, '[server]\nhttpAdress = "127.0.0.1:18000"\nwebClient = "console"\npidFile = "x.pid"\n'
                        '[logging]\nlogfile = "dvid.log"\nlevle = "debug"\n[kafka]\nservers = ["k"]\n[sever]\nx = 1\n'
                        '[store.main]\nengine = "lmdb"\npath = "db"\nsnyc = false\n'
                        '[store.log]\nengine = "filelog"\npath = "mlog"\n'
                        '[backend.default]\nstore = "main"\nlog = "log"\n')
    cfg = load_config(p)
    w = [line.split(": ", 1)[1] for line in cfg.warnings]
    assert "[server] httpAdress: unknown key, did you mean httpAddress?" in w
    assert "[server] pidFile: a DVID setting this server does not use; ignored" in w
    assert "[logging] levle: unknown key, did you mean level?" in w
    assert "[kafka]: a DVID section this server does not use; ignored" in w
    assert "[sever]: unknown section, did you mean [server]?" in w
    assert "[store.main] snyc: unknown key, did you mean sync?" in w
    assert '[store.log] engine: "filelog" is a DVID log store this server does not use; store ignored' in w
    assert "[backend.default] log: a DVID setting this server does not use; ignored" in w
    assert not any("webClient" in x for x in w), "webClient is ours (the console serves it)"
    assert cfg.web_client == str(tmp_path / "console") and cfg.log.logfile == str(tmp_path / "dvid.log")
    assert cfg.http_address == "localhost:8000" and set(cfg.stores) == {"main"}


@pytest.mark.parametrize("text, message", [
    ('[server]\nworkers = "two"\n', '[server] workers: must be a whole number, not "two"'),
    ('[server]\nhttpAddress = "127.0.0.1"\n',
     '[server] httpAddress: must be "host:port" (e.g. "localhost:8000"), not "127.0.0.1"'),
    ('[server]\naccessLog = "yes"\n', '[server] accessLog: must be true or false, not "yes"'),
    ('[server]\nrwMode = "rw"\n', '[server] rwMode: must be one of "", "readonly", "fullwrite", not "rw"'),
    ('[logging]\nmax_log_size = -1\n', "[logging] max_log_size: must be positive, not -1"),
    ("[server]\nmaxRequestBytes = 0\n", "[server] maxRequestBytes: must be at least 1, not 0"),
    ('[server]\nreadTimeout = "1m"\n', '[server] readTimeout: must be a number, not "1m"'),
    ('[store.main]\nengine = "rocksdb"\npath = "x"\n', '[store.main] engine: unknown engine "rocksdb"'),
    ('[store.main]\npath = "x"\n', "[store.main] engine: missing"),
    ('[store.main]\nengine = "lmdb"\nsync = "no"\n', '[store.main] sync: must be true or false, not "no"'),
    ('[store.a]\nengine = "lmdb"\npath = "a"\n[store.b]\nengine = "lmdb"\npath = "b"\n',
     "[backend.default] store: missing: with several stores, name the default one"),
    ('[store.a]\nengine = "lmdb"\npath = "a"\n[backend.default]\nstore = "b"\n',
     "[backend.default] store: no [store.b] section"),
    ("[server\n", "not valid TOML"),
])
def test_bad_values_are_one_line_errors(tmp_path, text, message):
    p = _conf(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert str(e.value).startswith(f"{p}: ") and message in str(e.value)


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _serve(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dvid.cli.main", "serve", *args], capture_output=True,
                          text=True, timeout=60, cwd=cwd)


def test_serve_exits_2_with_one_line(tmp_path):
    p = _conf(tmp_path, '[server]\nworkers = "two"\n')
    res = _serve(str(p), cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr == f'dvid: {p}: [server] workers: must be a whole number, not "two"\n'
    ports = _free_ports(2)  # the store is opened after the ports are bound: 8000 may be another server's
    p = _conf(tmp_path, f'[server]\nhttpAddress = "127.0.0.1:{ports[0]}"\nrpcAddress = "127.0.0.1:{ports[1]}"\n'
                        '[store.main]\nengine = "lmdb"\npath = "/proc/no/such/dir"\n')
    res = _serve(str(p), cwd=tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert f"dvid: {p}: [store.main]: cannot open lmdb store at /proc/no/such/dir: " in res.stderr


def test_unwritable_logfile_is_one_line(tmp_path):
    (tmp_path / "afile").write_text("")  # a path under a regular file cannot be created, even by root
    p = _conf(tmp_path, f'[logging]\nlogfile = "{tmp_path}/afile/dvid.log"\n'
                        '[store.main]\nengine = "lmdb"\npath = "db"\n')
    res = _serve(str(p), cwd=tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
    assert res.stderr.startswith(f"dvid: {p}: [logging] logfile: cannot write the log at {tmp_path}/afile/dvid.log: ")
    assert len(res.stderr.splitlines()) == 1, res.stderr


def test_busy_port_names_the_address(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        p = _conf(tmp_path, f'[server]\nhttpAddress = "127.0.0.1:{port}"\n'
                            '[store.main]\nengine = "lmdb"\npath = "db"\n')
        res = _serve(str(p), cwd=tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert f"dvid: cannot listen for HTTP on 127.0.0.1:{port} (httpAddress): Address already in use" in res.stderr


def test_unknown_instance_settings_are_accepted_and_named(server, repo):
    r = requests.post(f"{server.url}/api/repo/{repo}/instance",
                      json={"typename": "uint8blk", "dataname": "g", "Compresion": "jpeg", "MinIndex": "0,0,0",
                            "BlockSize": "64,64,64"})
    assert r.status_code == 200
    assert r.json() == {"result": f"Added g [uint8blk] to node {repo}",
                        "warning": "ignored unknown settings for uint8blk: Compresion (did you mean Compression?), "
                                   "MinIndex (did you mean MinPoint?)"}
    assert requests.get(f"{server.url}/api/node/{repo}/g/info").json()["Base"]["Compression"].startswith("LZ4")
    r = requests.post(f"{server.url}/api/repo/{repo}/instance",
                      json={"typename": "uint8blk", "dataname": "h", "Compression": "jpeg", "versioned": "1"})
    assert r.content == f'{{"result": "Added h [uint8blk] to node {repo}"}}'.encode(), "DVID's exact reply"
    res = server.cli("repo", repo, "new", "uint8blk", "k", "Compresion=jpeg")
    assert res.returncode == 0
    assert res.stdout.splitlines() == [f'Data "k" [uint8blk] added to node {repo}',
                                       "warning: ignored unknown setting for uint8blk: Compresion "
                                       "(did you mean Compression?)"]
    log = (server.data_dir / "server.log").read_text()
    assert f'new instance "k" @ {repo}: ignored unknown setting for uint8blk: Compresion' in log
