#!/usr/bin/env bash
# Install the real third-party DVID clients the test suite drives (tests/test_client_*.py).
# Idempotent: every step checks whether its result is already there. Run from anywhere.
#
#   - Debian chromium + chromium-driver (headless browser for neuroglancer)
#   - the standalone neuroglancer viewer build from npm @janelia-flyem/neuroglancer
#     (its dist/min is a plain static site; the PyPI wheel's build needs neuroglancer's own server)
#   - .venv-browser: selenium, to drive chromium through /usr/bin/chromedriver
#   - .venv-intern:  intern==1.4.2 (BossDB SDK with DVIDRemote)
#   - .venv-dvision: dvision 0.1.1 with numpy<2 (it calls ndarray.tostring / np.fromstring)
#
# Each part that fails to install prints a warning and the tests for it skip with that reason;
# set CLIENTS_STRICT=1 to make any failure fatal instead.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
PY=${PYTHON:-python3}
NG_VERSION=2.37.5
NG_DIR="$ROOT/.neuroglancer/$NG_VERSION"
STATUS=0

warn() {
  echo "clients.sh: WARNING: $*" >&2
  STATUS=1
}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else return 1; fi
}

# 1. Chromium and its driver.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  echo "clients.sh: installing chromium + chromium-driver (apt)"
  if ! { as_root apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends \
      chromium chromium-driver >/dev/null; }; then
    warn "could not install chromium/chromium-driver; neuroglancer tests will skip"
  fi
fi

# 2. The neuroglancer viewer (static build).
if [ ! -f "$NG_DIR/index.html" ]; then
  echo "clients.sh: fetching @janelia-flyem/neuroglancer@$NG_VERSION (npm pack)"
  tmp=$(mktemp -d)
  if (cd "$tmp" && npm pack --silent "@janelia-flyem/neuroglancer@$NG_VERSION" >/dev/null 2>&1) &&
    tar -xzf "$tmp"/janelia-flyem-neuroglancer-*.tgz -C "$tmp" package/dist/min; then
    mkdir -p "$NG_DIR"
    cp -r "$tmp/package/dist/min/." "$NG_DIR/"
  else
    warn "could not fetch the neuroglancer build from npm; neuroglancer tests will skip"
  fi
  rm -rf "$tmp"
fi

# 3. Virtual environments, one per client (their pins conflict with each other and with ours).
make_venv() {  # name marker-module pip-args...
  local name=$1 marker=$2
  shift 2
  local venv="$ROOT/.venv-$name"
  if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import $marker" 2>/dev/null; then
    return 0
  fi
  echo "clients.sh: creating .venv-$name ($*)"
  rm -rf "$venv"
  if ! { "$PY" -m venv "$venv" &&
    "$venv/bin/python" -m pip install -q "$@" 2> >(grep -v "is ignored: it is neither" >&2) &&
    "$venv/bin/python" -c "import $marker"; }; then
    warn "could not install $* into .venv-$name; its tests will skip"
    rm -rf "$venv"
  fi
}

make_venv browser selenium "selenium>=4.20,<5" pillow numpy
make_venv intern intern.remote.dvid "intern==1.4.2" "numpy<2"
# dvision declares no dependencies; it needs requests and retrying, and numpy<2.
make_venv dvision dvision "dvision==0.1.1" requests retrying "numpy<2"

if [ "$STATUS" != 0 ] && [ "${CLIENTS_STRICT:-0}" = 1 ]; then
  exit 1
fi
exit 0
