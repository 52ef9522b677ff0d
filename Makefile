# Switchboard's front door. `make dev` runs everything locally; `make test` runs every test.
# Both install what they need on a fresh machine (uv from PyPI, then the locked environment).

UV_VERSION := 0.13.9
UV := python3 -m uv
SYNC_STAMP := .venv/.synced-$(UV_VERSION)
SERVICES := gateway chat notification persistence metrics-collector
IMAGE_REGISTRY ?= ghcr.io/switchboard-dev
IMAGE_TAG ?= $(shell sed -n 's/^appVersion: *"*\([^"]*\)"*$$/\1/p' deploy/helm/switchboard/Chart.yaml)
JS_E2E := tests/e2e/js
JS_STAMP := $(JS_E2E)/node_modules/.installed
BENCH_JS := bench/js
BENCH_JS_STAMP := $(BENCH_JS)/node_modules/.installed
BENCH_ARGS ?=

.PHONY: help setup dev test test-unit test-faults test-k8s lint audit format bench images chart clean

help:
	@echo "make dev     start NATS, PostgreSQL and the five services; open http://localhost:8080/"
	@echo "make test    unit, component and end-to-end tests (real NATS and PostgreSQL)"
	@echo "make test-faults  only the fault suite (kill -9, restarts, slow PostgreSQL; docs/reliability.md)"
	@echo "make test-k8s  the Helm chart on a real local Kubernetes 1.20 (root; README: Kubernetes)"
	@echo "make lint    ruff format check, ruff lint, mypy --strict"
	@echo "make format  apply ruff format and fixes"
	@echo "make images  build the five images from docker/Dockerfile (needs Docker)"
	@echo "make chart   regenerate deploy/k8s/switchboard.yaml from the Helm chart"
	@echo "make bench   every benchmark scenario, then bench/REPORT.md (BENCH_ARGS=\"--only fanout\")"

$(SYNC_STAMP): uv.lock pyproject.toml
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet "uv==$(UV_VERSION)"
	$(UV) sync --frozen --all-packages
	@touch $@

# Real SSE clients for tests/e2e: the npm `eventsource` package, run with the machine's Node.js.
$(JS_STAMP): $(JS_E2E)/package.json $(JS_E2E)/package-lock.json
	cd $(JS_E2E) && npm ci --no-audit --no-fund
	@touch $@

# The benchmark's load generator and Node.js reference server: the npm `ws` package.
$(BENCH_JS_STAMP): $(BENCH_JS)/package.json $(BENCH_JS)/package-lock.json
	cd $(BENCH_JS) && npm ci --no-audit --no-fund
	@touch $@

setup: $(SYNC_STAMP) $(JS_STAMP) $(BENCH_JS_STAMP)
	@scripts/system-deps.sh

dev: setup
	$(UV) run switchboard-dev

test: setup
	$(UV) run pytest

test-faults: setup
	$(UV) run pytest -m fault

test-unit: setup
	$(UV) run pytest -m "not component and not e2e and not k8s"

# A one-node Kubernetes v1.20 of our own (libs/localkube: built once into
# SWITCHBOARD_K8S_CACHE, default /var/cache/switchboard-k8s), the five images from
# docker/Dockerfile, the chart installed and disturbed (tests/k8s); everything taken down after.
test-k8s: setup
	$(UV) run pytest -m k8s tests/k8s

lint: $(SYNC_STAMP)
	$(UV) run ruff format --check .
	$(UV) run ruff check .
	$(UV) run mypy libs services tests bench

# Audits the locked dependencies against the Python Packaging Advisory Database (through PyPI's
# JSON API). --strict: a package that cannot be audited fails the run instead of passing silently,
# so this target fails where that API is unreachable (as on our CI machines); it is not part of lint.
audit: $(SYNC_STAMP)
	$(UV) export --frozen --all-packages --no-emit-workspace --no-hashes --format requirements-txt -o .audit-requirements.txt
	$(UV) run pip-audit --strict --disable-pip --no-deps --progress-spinner off -r .audit-requirements.txt

format: $(SYNC_STAMP)
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

# Runs every scenario (about 14 minutes on 2 cores), then rewrites bench/REPORT.md and its plots.
bench: setup
	$(UV) run switchboard-bench $(BENCH_ARGS)
	$(UV) run python -m switchboard_bench.scaling

images:
	@for service in $(SERVICES); do \
		echo "building $(IMAGE_REGISTRY)/$$service:$(IMAGE_TAG)"; \
		docker build -f docker/Dockerfile --build-arg SERVICE=$$service \
			-t $(IMAGE_REGISTRY)/$$service:$(IMAGE_TAG) . || exit 1; \
	done

chart: $(SYNC_STAMP)
	$(UV) run python -m tests.deploy.chart

clean:
	rm -rf .switchboard test-artifacts .pytest_cache .mypy_cache .ruff_cache
