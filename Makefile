# iomodels: `make` lists the targets; each target that runs the project creates the virtualenv first when it is missing.
# The default python3 builds .venv; another Python (make venv PYTHON=python3.13) builds its
# own .venv-<major.minor>, which every target uses when given the same PYTHON= (or VENV=):
# make serve MODEL=interpreters PYTHON=python3.13 (that model needs 3.13+; see docs/python313.md).
ifdef PYTHON
PY_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
VENV ?= .venv-$(or $(PY_VERSION),unknown)
else
PYTHON := python3
VENV ?= .venv
endif
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

MODEL    ?= asyncio
PORT     ?= 8000
PROTOCOL ?= http
HOST_BIND ?= 127.0.0.1

.PHONY: help venv serve test test-model test-all lint typecheck clean locust loadtest compare bench crawl crawl-bench soak
.DEFAULT_GOAL := help

## help: this list of targets (the default: `make` alone prints it)
help:
	@awk 'FNR == 1 { more = 0 } \
		/^## [a-z][a-z-]*: / { n++; name[n] = substr($$2, 1, length($$2) - 1); \
			desc[n] = substr($$0, length($$2) + 5); if (length(name[n]) > w) w = length(name[n]); \
			more = 1; next } \
		more && /^## / { n++; name[n] = ""; desc[n] = substr($$0, 4); next } \
		{ more = 0 } \
		END { print "usage: make [TARGET] [NAME=value ...]"; \
			fmt = "  %-" w "s  %s\n"; \
			for (i = 1; i <= n; i++) printf fmt, name[i], desc[i] }' $(MAKEFILE_LIST)

## venv: create .venv with the project (editable) and its dev tools; the targets that need it do this first
venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "iomodels needs Python 3.11 or newer; $(PYTHON) is " + sys.version.split()[0] + ": choose another with PYTHON=...")' \
		|| { command -v $(PYTHON) >/dev/null || echo "iomodels: no such Python: $(PYTHON)"; exit 2; }
	@if [ -e $(VENV) ] && ! $(BIN)/python -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then \
		echo "$(VENV) is broken or was built by a Python older than 3.11: rebuilding it with $(PYTHON)"; \
		rm -rf $(VENV); fi
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	PYTHONWARNINGS=ignore $(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## serve: run one server in the foreground (MODEL=asyncio PORT=8000 PROTOCOL=http)
serve: venv
	$(BIN)/iomodels serve --model $(MODEL) --host $(HOST_BIND) --port $(PORT) --protocol $(PROTOCOL) $(ARGS)

## Locust (loadtests/): HOST=http://... aims at a running server instead of starting one
USERS      ?= 100
SPAWN_RATE ?= 20
DURATION   ?= 30s
WORKERS    ?= 0
WEB_PORT   ?= 8089
LOCUST_TARGET = $(if $(findstring ://,$(HOST)),--host $(HOST))
LOCUST_COMMON = --protocol $(PROTOCOL) --users $(USERS) --spawn-rate $(SPAWN_RATE) --workers $(WORKERS) \
	$(if $(CLASSES),--classes $(CLASSES)) $(if $(LOCUST_ARGS),--locust-args="$(LOCUST_ARGS)")

## locust: a server of MODEL and Locust's web UI on http://127.0.0.1:8089 (Ctrl-C stops both)
locust: venv
	$(BIN)/iomodels locust --model $(MODEL) $(LOCUST_TARGET) --web-port $(WEB_PORT) $(LOCUST_COMMON)

## loadtest: one headless run into results/locust-<model>-<timestamp>/ (USERS SPAWN_RATE DURATION WORKERS)
loadtest: venv
	$(BIN)/iomodels loadtest --model $(MODEL) $(LOCUST_TARGET) --duration $(DURATION) $(LOCUST_COMMON)

## compare: the same headless scenario against each model (MODELS="fork thread ..."), one report
compare: venv
	$(BIN)/iomodels compare $(if $(MODELS),--models "$(MODELS)") --duration $(DURATION) $(LOCUST_COMMON)

## bench: every model x workload into results/<UTC timestamp>/ (MODELS="fork thread" WORKLOADS= DURATION=10 QUICK=1)
## (installs the references extra: gunicorn, uvicorn; one load at a time: bench, loadtest, compare, crawl-bench and soak wait for each other)
BENCH_DURATION = $(if $(filter command line environment,$(origin DURATION)),--duration $(patsubst %s,%,$(DURATION)))
bench: venv
	$(BIN)/python -m pip install --quiet -e '.[references]'
	$(BIN)/iomodels bench $(if $(MODELS),--models "$(MODELS)") \
		$(if $(WORKLOADS),--workloads "$(WORKLOADS)") $(BENCH_DURATION) $(if $(QUICK),--quick) $(BENCH_ARGS)

## Crawlers (clients/crawl/): CRAWLER against a fresh SERVER-model server's /site/
CRAWLER         ?= asyncio
SERVER          ?= gevent
CONCURRENCY     ?= 100
SITE_PAGES      ?= 1000
SITE_LATENCY_MS ?= 10

## crawl: one crawl, printed as a table (CRAWLER SERVER CONCURRENCY SITE_PAGES SITE_LATENCY_MS ARGS=--json)
crawl: venv
	$(BIN)/iomodels crawl --crawler $(CRAWLER) --serve $(SERVER) --concurrency $(CONCURRENCY) \
		--site-pages $(SITE_PAGES) --site-latency-ms $(SITE_LATENCY_MS) $(ARGS)

## crawl-bench: every crawler (and Scrapy) at 1, 10, 100, 500 into results/crawl-<timestamp>/ (CRAWL_BENCH_ARGS=)
crawl-bench: venv
	$(BIN)/python -m pip install --quiet -e '.[scrapy]'
	$(BIN)/iomodels crawl-bench $(CRAWL_BENCH_ARGS)

## test: lint, typecheck, then the fast test suite (what CI runs)
test: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest -m "not slow" $(PYTEST_ARGS)

## test-model: the cross-model suites for one MODEL, slow tests included (MODEL=interpreters PYTHON=python3.13)
## (conformance, corpus, limits, faults, lifecycle, event loops and tests/test_MODEL.py, then the equivalence of every model)
CROSS_MODEL_SUITES = tests/test_conformance.py tests/test_corpus.py tests/test_robustness_limits.py \
	tests/test_robustness_faults.py tests/test_lifecycle.py tests/test_event_loops.py $(wildcard tests/test_$(MODEL).py)
test-model: venv
	$(BIN)/pytest -q $(CROSS_MODEL_SUITES) -k $(MODEL) $(PYTEST_ARGS)
	$(BIN)/pytest -q tests/test_equivalence.py -m "not slow" $(PYTEST_ARGS)

## soak: 60 s of mixed load per model, then fds back to baseline and RSS growth < 5% (MODELS= SOAK_ARGS=)
## (bounded, not in CI)
soak: venv
	$(BIN)/iomodels soak $(if $(MODELS),--models "$(MODELS)") $(SOAK_ARGS)

## test-all: every test, slow ones included
test-all: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest $(PYTEST_ARGS)

## lint: ruff check and ruff format --check
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## typecheck: mypy
typecheck: venv
	$(BIN)/mypy

## clean: remove the virtualenv and caches
clean:
	rm -rf .venv .venv-* .pytest_cache .ruff_cache .mypy_cache .hypothesis build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
