"""The server log as an operator reads it: access lines from every worker into one file, errors
with their message, job lines naming files, start-up and shutdown lines, rotation, -verbose and
--quiet."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time

import numpy as np
import requests
from PIL import Image

from dvid.server import logsetup
from dvid.server.accesslog import with_access_log

LOG_TOML = '[logging]\nlogfile = "logs/dvid.log"\n'


def _wait_for(path, pattern: str, timeout: float = 10.0) -> str:
    deadline = time.time() + timeout
    text = ""
    while time.time() < deadline:
        text = path.read_text() if path.exists() else ""
        if re.search(pattern, text):
            return text
        time.sleep(0.1)
    raise AssertionError(f"{pattern!r} not in log:\n{text[-3000:]}")


def test_access_job_startup_and_shutdown_lines(server_factory, tmp_path):
    srv = server_factory(workers=2, extra_toml=LOG_TOML)
    logfile = srv.data_dir / "logs" / "dvid.log"
    uuid = srv.new_repo()
    assert requests.post(f"{srv.url}/api/repo/{uuid}/instance",
                         json={"typename": "uint8blk", "dataname": "g", "BlockSize": "32,32,32"}).ok
    for _ in range(6):  # fresh connections spread over both workers
        requests.get(f"{srv.url}/api/node/{uuid}/g/info")
    bad = requests.get(f"{srv.url}/api/node/{uuid}/g/raw/0_1_2/10_10/0_0_0")
    assert bad.status_code == 400
    requests.get(f"{srv.url}/api/heartbeat")
    for i in range(2):
        Image.fromarray(np.full((32, 32), i, np.uint8)).save(tmp_path / f"s{i}.png")
    (tmp_path / "s2.png").write_bytes(b"not an image")
    res = srv.cli("node", uuid, "g", "load", "0,0,0", str(tmp_path / "s*.png"))
    assert res.returncode == 1
    assert "loaded 2 of 3 files" in res.stdout and "1 failed: " + str(tmp_path / "s2.png") in res.stdout
    _wait_for(logfile, r"job \w+ failed")
    time.sleep(2 * logsetup.FLUSH_INTERVAL)  # INFO lines of the workers may wait that long in memory
    text = logfile.read_text()
    assert re.search(r"INFO +\[\d+\] DVID-compatible server .*HTTP on 127\.0\.0\.1:\d+ \(2 workers\)", text)
    assert len(set(re.findall(r"\[(\d+)\] HTTP worker \d+ ready", text))) == 2
    info_line = r'\[(\d+)\] 127\.0\.0\.1 "GET /api/node/\w+/g/info HTTP/1\.1" 200 \d+ [\d.]+ms'
    assert len(re.findall(info_line, text)) == 6
    for _ in range(10):  # the kernel picks the worker: ask until both have answered
        if len(set(re.findall(info_line, text))) == 2:
            break
        for _ in range(6):
            requests.get(f"{srv.url}/api/node/{uuid}/g/info")
        time.sleep(2 * logsetup.FLUSH_INTERVAL)
        text = logfile.read_text()
    assert len(set(re.findall(info_line, text))) == 2, "both workers write their lines to the one file"
    assert re.search(r'WARNING +\[\d+\] 127\.0\.0\.1 "GET /api/node/\w+/g/raw/0_1_2/10_10/0_0_0 HTTP/1\.1" 400 \d+ '
                     r"[\d.]+ms: .+\(/api/node/\w+/g/raw/0_1_2/10_10/0_0_0\)\.", text)
    assert "/api/heartbeat" not in text  # polled by clients; silent as in DVID
    assert re.search(r"job \w+ started on g @ \w+: load 0,0,0", text)
    assert re.search(r"WARNING .*job \w+: .*s2\.png: ", text)
    assert re.search(r"ERROR .*job \w+ failed after [\d.]+ s with 1 error: loaded 2 of 3 files", text)
    srv.stop()
    text = logfile.read_text()
    assert len(re.findall(r"HTTP worker \d+ stopped", text)) == 2
    assert re.search(r"INFO +\[\d+\] DVID server stopped after \d+ s", text)


def test_quiet_and_verbose(server_factory):
    quiet = server_factory(extra_toml=LOG_TOML, args=["--quiet"])
    requests.get(f"{quiet.url}/api/server/info")
    requests.get(f"{quiet.url}/api/node/nope/info")
    loud = server_factory(extra_toml=LOG_TOML, args=["-verbose"])
    requests.get(f"{loud.url}/api/server/info")
    assert loud.cli("types").returncode == 0
    quiet.stop()
    loud.stop()
    qtext = (quiet.data_dir / "logs" / "dvid.log").read_text()
    assert '"GET ' not in qtext and "INFO" not in qtext  # warnings and errors only
    ltext = (loud.data_dir / "logs" / "dvid.log").read_text()
    assert re.search(r'INFO .*"GET /api/server/info HTTP/1\.1" 200', ltext)
    assert re.search(r"DEBUG .*POST /command", ltext)  # the command listener's requests at debug level


def test_failing_request_logs_500(caplog):
    """A handler bug (injected: an app that raises) gives an ERROR access line; the traceback is the
    server's (uvicorn's or app.handle's) and is logged beside it."""

    async def broken(scope, receive, send):
        raise RuntimeError("boom")

    app = with_access_log(broken)
    scope = {"type": "http", "method": "GET", "path": "/api/x", "query_string": b"u=me",
             "http_version": "1.1", "client": ("10.0.0.1", 5)}

    async def run():
        try:
            await app(scope, None, None)
        except RuntimeError:
            return True
        return False

    with caplog.at_level(logging.INFO, logger="dvid.access"):
        assert asyncio.run(run())
    rec = [r for r in caplog.records if r.name == "dvid.access"][-1]
    assert rec.levelno == logging.ERROR
    assert re.fullmatch(r'10\.0\.0\.1 "GET /api/x\?u=me HTTP/1\.1" 500 0 [\d.]+ms', rec.getMessage())


def test_rotation_by_size_and_age(tmp_path):
    path = tmp_path / "dvid.log"
    settings = logsetup.LogSettings(logfile=str(path), max_log_size_mb=0.001, max_log_age_days=1)
    handler = logsetup.configure(settings)
    try:
        lg = logging.getLogger("dvid.test.rotation")
        for i in range(40):
            lg.warning("line %d of some length to fill the file", i)
        rot = logsetup.LogRotator(settings)
        old = tmp_path / "dvid-2000-01-01T00-00-00.000.log"
        old.write_text("ancient\n")
        os.utime(old, (0, 0))
        assert rot.check()
        lg.warning("after rotation")
        backups = sorted(p.name for p in tmp_path.glob("dvid-*.log"))
        assert len(backups) == 1 and backups[0] != old.name, "the 25-year-old backup is pruned"
        assert "line 39 of" in (tmp_path / backups[0]).read_text()
        assert "after rotation" in path.read_text() and "line 39" not in path.read_text()
        assert not rot.check()  # small again
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
