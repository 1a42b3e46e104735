# Sourced by the bootstrap and the Makefile targets: keeps every tool's files inside the project.
SOLO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export SOLO_ROOT
export REFLEX_DIR="$SOLO_ROOT/.tools/reflex"
export BUN_INSTALL_CACHE_DIR="$SOLO_ROOT/.tools/bun-cache"
export REFLEX_TELEMETRY_ENABLED=false
export REFLEX_CHECK_LATEST_VERSION=false
export PATH="$SOLO_ROOT/.venv/bin:$SOLO_ROOT/.tools/node_modules/.bin:$SOLO_ROOT/.tools/uv/bin:$PATH"
export UV_PROJECT_ENVIRONMENT="$SOLO_ROOT/.venv"
export REFLEX_BUN_PATH="$SOLO_ROOT/.tools/node_modules/.bin/bun"
