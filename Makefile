# Relayline. `make run` and `make test` install whatever is missing, then do their job.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMPS := .stamps
WEB_SOURCES := $(shell find web/src web/scripts web/index.html web/vite.config.ts web/package.json -type f 2>/dev/null)
# pytest's processes (pytest-xdist): one per core, at most 4. Most of a test's time is real
# edges and workers starting up on one core each; every pytest process has its own Redis.
# Then the tests marked `solo`, one at a time: floods whose victims' waits other tests' load
# would blur. Both parts always run; the target fails if either does.
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); echo $$(( n < 4 ? n : 4 )))
PYTEST := status=0; \
	$(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal -m "not solo" || status=$$?; \
	$(PY) -m pytest -m solo || status=$$?; \
	exit $$status

.PHONY: run test lint bench chaos deps contracts clean test-python test-web

run: $(STAMPS)/python web/dist/index.html  ## the whole stack at http://127.0.0.1:8000
	$(VENV)/bin/relayline up

test: $(STAMPS)/system-test $(STAMPS)/python web/dist/index.html  ## every suite
	npm --prefix web test
	$(PYTEST)

test-python: $(STAMPS)/system-test $(STAMPS)/python web/dist/index.html
	$(PYTEST)

test-web: $(STAMPS)/web
	npm --prefix web test

chaos: $(STAMPS)/system-test $(STAMPS)/python  ## the chaos suite, with a longer soak
	RELAYLINE_SOAK_SECONDS=$${RELAYLINE_SOAK_SECONDS:-900} $(PY) -m pytest tests/chaos

lint: $(STAMPS)/python $(STAMPS)/web  ## ruff, mypy --strict, TypeScript
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	npm --prefix web run typecheck

# `make bench BENCH_BEFORE=<commit>`: the overhead benchmark measures that commit's services too.
bench: $(STAMPS)/system-test $(STAMPS)/system-bench $(STAMPS)/python  ## benchmarks; writes docs/benchmarks.md
	$(PY) -m tests.bench
	$(PY) -m tests.bench.chat
	$(PY) -m tests.bench.topologies
	$(PY) -m tests.bench.fairness
	$(PY) -m tests.bench.overhead $(if $(BENCH_BEFORE),--before $(BENCH_BEFORE))
	$(PY) -m tests.bench.capacity
	$(PY) -m tests.bench.heavy $(if $(BENCH_BEFORE),--before $(BENCH_BEFORE))

contracts: $(STAMPS)/python $(STAMPS)/web  ## regenerate JSON Schema and TypeScript types
	$(PY) -m contracts.generate

deps: $(STAMPS)/system-test $(STAMPS)/python $(STAMPS)/web

$(STAMPS)/system-test: infra/scripts/install-system.sh
	bash infra/scripts/install-system.sh redis chromium
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/system-bench: infra/scripts/install-system.sh
	bash infra/scripts/install-system.sh redis wrk
	@mkdir -p $(STAMPS) && touch $@

# torch first, pinned, by pip: pip's configuration finds the CPU build on this kind of machine;
# anything else would pull the multi-GB CUDA build. The rest by uv, which keeps that torch: pip
# spends minutes resolving these packages, uv seconds. Everything is byte-compiled, torch on
# every core (but its test helpers, one of them Python 3.12 only): where PYTHONDONTWRITEBYTECODE
# is set nothing else would, and every process started would compile its imports again.
$(STAMPS)/python: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --no-compile torch==2.13.0 uv
	$(VENV)/bin/uv pip install -q --compile-bytecode --python $(PY) -e '.[models,dev]'
	$(PY) -m compileall -q -j 0 -x /testing/_internal/ \
		"$$($(PY) -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/torch"
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/web: web/package.json web/package-lock.json
	npm --prefix web ci --no-audit --no-fund
	@mkdir -p $(STAMPS) && touch $@

web/dist/index.html: $(STAMPS)/web $(WEB_SOURCES)
	npm --prefix web run build

clean:
	rm -rf $(STAMPS) web/dist .pytest_cache .mypy_cache .ruff_cache
