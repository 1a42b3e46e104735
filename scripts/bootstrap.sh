#!/usr/bin/env bash
# Everything `make run` and `make test` need, from a fresh clone, using only PyPI and the npm registry.
# A second run with nothing changed does no installs.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$SOLO_ROOT"

UV_VERSION=0.13.9
BUN_VERSION=1.4.5

# 1. uv (pinned), from PyPI, into .tools/uv: the same uv on every machine.
if [ ! -x .tools/uv/bin/uv ]; then
  echo "bootstrap: installing uv $UV_VERSION into .tools/uv"
  python3 -m venv .tools/uv
  .tools/uv/bin/pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi
uv() { "$SOLO_ROOT/.tools/uv/bin/uv" "$@"; }

# 2. The locked Python dependencies into .venv (a no-op when nothing changed), byte-compiled once at install:
#    where PYTHONDONTWRITEBYTECODE is set, nothing else ever writes the .pyc files, and every start of the app
#    would compile its ~100 MB of dependencies again (seconds of CPU).
stamp=.venv/.solo-lock-stamp
if [ ! -x .venv/bin/python ] || [ ! -f "$stamp" ] || ! cmp -s uv.lock "$stamp"; then
  echo "bootstrap: installing locked Python dependencies"
  uv sync --frozen --python 3.11 --compile-bytecode
  cp uv.lock "$stamp"
  touch .venv/.solo-bytecode-stamp
fi
if [ ! -f .venv/.solo-bytecode-stamp ]; then
  echo "bootstrap: byte-compiling the Python dependencies (once)"
  .venv/bin/python -m compileall -q -j 0 .venv/lib >/dev/null || true
  touch .venv/.solo-bytecode-stamp
fi

# 3. bun, from the npm registry, for Reflex's frontend build (Reflex's own download needs the internet).
if [ ! -x .tools/node_modules/.bin/bun ]; then
  echo "bootstrap: installing bun $BUN_VERSION from the npm registry"
  npm install --no-save --no-audit --no-fund --prefix .tools "bun@$BUN_VERSION" >/dev/null
fi
export REFLEX_BUN_PATH="$SOLO_ROOT/.tools/node_modules/.bin/bun"
