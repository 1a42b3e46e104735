#!/usr/bin/env bash
# `make run`: the app on one port. Builds the frontend only when its sources, packages or settings changed
# (see scripts/frontend.py); otherwise starts the backend alone, serving the last build.
#   HOST (default 127.0.0.1), PORT (default 3000); extra arguments go to `scripts/frontend.py serve`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$SOLO_ROOT"
export HOST="${HOST:-127.0.0.1}" PORT="${PORT:-3000}"
exec python scripts/frontend.py serve --host "$HOST" --port "$PORT" "$@"
