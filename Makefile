# The two commands: `make run` (the app on http://127.0.0.1:3000) and `make test` (lint, types, all tests).
SHELL := /bin/bash
PORT ?= 3000
HOST ?= 127.0.0.1

.PHONY: run frontend test setup lint typecheck pytest bench bench-ttft bench-concurrent bench-db bench-long \
	bench-knowledge bench-memory bench-agents

setup:
	@bash scripts/bootstrap.sh
	@source scripts/env.sh && solo setup

run:
	@bash scripts/bootstrap.sh
	@HOST=$(HOST) PORT=$(PORT) bash scripts/run.sh

# Build the frontend now (`make run` builds it only when its sources changed).
frontend:
	@bash scripts/bootstrap.sh
	@source scripts/env.sh && PORT=$(PORT) python scripts/frontend.py build

lint:
	@source scripts/env.sh && ruff check . && ruff format --check .

typecheck:
	@source scripts/env.sh && mypy services models state tests

pytest:
	@source scripts/env.sh && export REFLEX_BUN_PATH=$$SOLO_ROOT/.tools/node_modules/.bin/bun && pytest -q $(PYTEST_ARGS)

test:
	@bash scripts/bootstrap.sh
	@$(MAKE) --no-print-directory lint
	@$(MAKE) --no-print-directory typecheck
	@$(MAKE) --no-print-directory pytest

bench:
	@bash scripts/bootstrap.sh
	@source scripts/env.sh && python bench/startup.py $(BENCH_ARGS)

bench-ttft:
	@bash scripts/bootstrap.sh
	@source scripts/env.sh && python bench/ttft.py $(BENCH_ARGS)

bench-concurrent:
	@bash scripts/bootstrap.sh
	@source scripts/env.sh && python bench/concurrent_chats.py $(BENCH_ARGS)

bench-db:
	@bash scripts/bootstrap.sh
	@source scripts/env.sh && python bench/chat_db.py $(BENCH_ARGS)

bench-long:
	@bash scripts/bootstrap.sh
	@source scripts/env.sh && python bench/long_conversation.py $(BENCH_ARGS)

bench-knowledge:
	@bash scripts/bootstrap.sh
	@source scripts/env.sh && python bench/knowledge.py $(BENCH_ARGS)

bench-memory:
	@bash scripts/bootstrap.sh
	@source scripts/env.sh && python bench/memory.py $(BENCH_ARGS)

bench-agents:
	@bash scripts/bootstrap.sh
	@source scripts/env.sh && python bench/agents.py $(BENCH_ARGS)
