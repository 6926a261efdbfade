"""Locate the client virtualenvs and run client scripts in them."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
ARTIFACTS = ROOT / "test-artifacts"
NG_VERSION = "2.37.5"
NG_DIR = ROOT / ".neuroglancer" / NG_VERSION
SETUP = "scripts/setup.d/clients.sh"


def venv_python(name: str) -> Path:
    """The interpreter of ``.venv-<name>``; skips the calling test if it is not installed."""
    py = ROOT / f".venv-{name}" / "bin" / "python"
    if not py.exists():
        pytest.skip(f".venv-{name} is not installed (run {SETUP}; it prints why a part failed)")
    return py


def require_chromium() -> Path:
    """The python with selenium; skips if chromium, chromedriver or .venv-browser is missing."""
    for tool in ("chromium", "chromedriver"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not found on PATH (Debian package chromium/chromium-driver; run {SETUP})")
    return venv_python("browser")


def require_browser() -> tuple[Path, Path]:
    """(python with selenium, neuroglancer static dir); skips if chromium or the viewer is missing."""
    python = require_chromium()
    if not (NG_DIR / "index.html").exists():
        pytest.skip(f"neuroglancer {NG_VERSION} viewer build not found in {NG_DIR} (run {SETUP})")
    return python, NG_DIR


def run_script(python: Path, script: str, payload: dict, timeout: float = 120) -> dict:
    """Run ``tests/clients/<script>`` with ``python``; payload goes in as JSON on stdin.

    The script prints one JSON object on its last stdout line; that object is returned.
    A non-zero exit fails the test with the script's output.
    """
    proc = subprocess.run(
        [str(python), str(HERE / script)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        pytest.fail(
            f"{script} exited {proc.returncode}\n--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-6000:]}"
        )
    if proc.stderr.strip():
        print(proc.stderr[-4000:], file=sys.stderr)
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    if not lines:
        pytest.fail(f"{script} printed nothing; stderr:\n{proc.stderr[-4000:]}")
    return json.loads(lines[-1])
