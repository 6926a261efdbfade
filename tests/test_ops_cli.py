"""The dvid command as a user meets it: version and help, node commit/log/note/status, jobs as a
table, a failed load's summary."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
from PIL import Image


def _dvid(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dvid.cli.main", *args], capture_output=True, text=True, timeout=60)


def test_version_and_help():
    res = _dvid("--version")
    assert res.returncode == 0 and re.fullmatch(r"dvid \S+ \(Python; datastore \S+\)\n", res.stdout)
    res = _dvid("serve", "--help")
    assert res.returncode == 0 and res.stdout.startswith("usage: dvid serve")
    assert "--workers N" in res.stdout and "-quiet" in res.stdout and "CONFIG.toml" in res.stdout
    res = _dvid("serve", "--workers", "two")
    assert res.returncode == 2 and "invalid int value: 'two'" in res.stderr
    assert "node <uuid> commit [note]" in _dvid("help").stdout


def test_cli_node_commands_cover_commit_to_branch(server):
    uuid = server.new_repo("flow", "the README's sequence")
    assert server.cli("repo", uuid, "new", "uint8blk", "g").returncode == 0
    res = server.cli("repo", uuid, "newversion")
    assert res.returncode == 1 and "can't branch an unlocked node" in res.stderr
    res = server.cli("node", uuid, "note", "first", "pass")
    assert res.stdout.strip() == f"Note of node {uuid} set"
    assert server.cli("node", uuid, "note").stdout.strip() == "first pass"
    assert server.cli("node", uuid, "log", "imported a=1", "checked").stdout.strip() == \
        f"Added 2 lines to the log of node {uuid}"
    last = server.cli("node", uuid, "log").stdout.splitlines()[-2:]
    assert last[0].endswith("  imported a=1") and last[1].endswith("  checked")  # DVID stamps each line
    assert server.cli("node", uuid[:6], "status").stdout.splitlines()[0] == f"node {uuid}: open (accepts writes)"
    res = server.cli("node", uuid, "commit", "proofread", "v1")
    assert res.returncode == 0 and res.stdout.startswith(f'Committed node {uuid} with note "proofread v1"')
    res = server.cli("node", uuid, "commit")
    assert res.returncode == 1 and "already committed" in res.stderr
    child = server.cli("repo", uuid, "newversion").stdout.split()[1]
    status = server.cli("node", uuid, "status").stdout
    assert "committed (locked)" in status and f"children  {child}" in status
    assert server.cli("node", child, "status").stdout.splitlines()[3] == f"  parents   {uuid}"



def test_jobs_table_and_failed_load_summary(server, repo, tmp_path):
    assert server.cli("repo", repo, "new", "uint8blk", "g").returncode == 0
    for i in range(6):
        Image.fromarray(np.full((16, 16), i, np.uint8)).save(tmp_path / f"s{i}.png")
    for i in range(6, 9):
        (tmp_path / f"s{i}.png").write_bytes(b"broken")
    res = server.cli("node", repo, "g", "load", "0,0,0", str(tmp_path / "s*.png"))
    assert res.returncode == 1
    bad = ", ".join(str(tmp_path / f"s{i}.png") for i in range(6, 9))
    assert f"loaded 6 of 9 files into g @ {repo}; 3 failed: {bad}" in res.stdout
    rate = re.findall(r"([\d.]+) files/s", res.stderr)  # by the job's clock, not millions per second
    assert rate and float(rate[-1]) < 1e5, res.stderr
    table = server.cli("jobs").stdout.splitlines()
    assert table[0].split() == ["ID", "STATE", "PROGRESS", "ERRORS", "STARTED", "TOOK", "COMMAND"]
    row = next(line for line in table if "load 0,0,0" in line)
    assert row.split()[1:4] == ["failed", "9/9", "files"] and row.split()[4] == "3"
    job = row.split()[0]
    text = server.cli("job", job).stdout
    assert text.startswith(f"job {job}: failed  load 0,0,0") and "3 errors:" in text
    assert server.cli("--json", "job", job).stdout.startswith("{")
