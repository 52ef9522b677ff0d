# Switchboard's front door. `make dev` runs everything locally; `make test` runs every test.
# Both install what they need on a fresh machine (uv from PyPI, then the locked environment).

UV_VERSION := 0.13.9
UV := python3 -m uv
SYNC_STAMP := .venv/.synced-$(UV_VERSION)
JS_E2E := tests/e2e/js
JS_STAMP := $(JS_E2E)/node_modules/.installed

.PHONY: help setup dev test test-unit lint format bench images chart clean

help:
	@echo "make dev     start NATS, PostgreSQL and the five services; open http://localhost:8080/"
	@echo "make test    unit, component and end-to-end tests (real NATS and PostgreSQL)"
	@echo "make lint    ruff format check, ruff lint, mypy --strict"
	@echo "make format  apply ruff format and fixes"

$(SYNC_STAMP): uv.lock pyproject.toml
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet "uv==$(UV_VERSION)"
	$(UV) sync --frozen --all-packages
	@touch $@

# Real SSE clients for tests/e2e: the npm `eventsource` package, run with the machine's Node.js.
$(JS_STAMP): $(JS_E2E)/package.json $(JS_E2E)/package-lock.json
	cd $(JS_E2E) && npm ci --no-audit --no-fund
	@touch $@

setup: $(SYNC_STAMP) $(JS_STAMP)
	@scripts/system-deps.sh

dev: setup
	$(UV) run switchboard-dev

test: setup
	$(UV) run pytest

test-unit: setup
	$(UV) run pytest -m "not component and not e2e"

lint: $(SYNC_STAMP)
	$(UV) run ruff format --check .
	$(UV) run ruff check .
	$(UV) run mypy libs services tests

format: $(SYNC_STAMP)
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

clean:
	rm -rf .switchboard test-artifacts .pytest_cache .mypy_cache .ruff_cache
