# iomodels: `make` lists the targets; each target that runs the project creates the virtualenv first when it is missing.
# The default python3 builds .venv; another Python (make venv PYTHON=python3.13) builds its
# own .venv-<full version>, "t" added for a free-threaded build (.venv-3.13.0, .venv-3.13.5t),
# which every target uses when given the same PYTHON= (or VENV=):
# make serve MODEL=interpreters PYTHON=python3.13 (that model needs 3.13+; see docs/python313.md).
# A free-threaded Python gets the project and its tests only: without the `gil` extra, and
# without lint (mypy does not build there); lint runs on the default Python (docs/free-threading.md).
PY_PROBE = import sys, sysconfig; print("%d.%d.%d" % sys.version_info[:3] + ("t" if sysconfig.get_config_var("Py_GIL_DISABLED") else ""))
ifdef PYTHON
PY_VERSION := $(shell $(PYTHON) -c '$(PY_PROBE)' 2>/dev/null)
VENV ?= .venv-$(or $(PY_VERSION),unknown)
else
PYTHON := python3
PY_VERSION := $(shell $(PYTHON) -c '$(PY_PROBE)' 2>/dev/null)
VENV ?= .venv
endif
comma := ,
EXTRAS := $(if $(filter %t,$(PY_VERSION)),test,dev$(comma)gil)
# newest releases may come as source only for 3.13t (matplotlib 3.11.2): take the newest wheel
PIP_PREFER := $(if $(filter %t,$(PY_VERSION)),--prefer-binary)
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

MODEL    ?= asyncio
PORT     ?= 8000
PROTOCOL ?= http
HOST_BIND ?= 127.0.0.1

# Every target declares the variables it reads (VARS_<target>, plus COMMON_VARS for all):
# a NAME=value on the command line that none of the goals reads is refused before anything
# runs, in one line, with the near miss it probably meant (MODEL for MODELS, PROCESSES for WORKERS).
COMMON_VARS      := PYTHON VENV
VARS_help        :=
VARS_venv        :=
VARS_python-ft   :=
VARS_python-gil  :=
VARS_serve       := MODEL PORT PROTOCOL HOST_BIND ARGS UPSTREAM
VARS_locust      := MODEL HOST PROTOCOL USERS SPAWN_RATE PROCESSES CLASSES LOCUST_ARGS WEB_PORT
VARS_loadtest    := MODEL HOST PROTOCOL USERS SPAWN_RATE PROCESSES CLASSES LOCUST_ARGS DURATION
VARS_loadtest-hosts := MODEL PROTOCOL USERS SPAWN_RATE PROCESSES CLASSES LOCUST_ARGS DURATION TEST_HOSTS LINK_RATE
VARS_compare     := MODELS PROTOCOL USERS SPAWN_RATE PROCESSES CLASSES LOCUST_ARGS DURATION
VARS_bench       := MODELS WORKLOADS DURATION QUICK BENCH_ARGS
VARS_crawl       := CRAWLER MODEL CONCURRENCY SITE_PAGES SITE_LATENCY_MS ARGS
VARS_crawl-bench := MODEL CRAWL_BENCH_ARGS
VARS_test        := PYTEST_ARGS
VARS_test-model  := MODEL PYTEST_ARGS
VARS_soak        := MODELS SOAK_ARGS
VARS_test-all    := PYTEST_ARGS
VARS_lint        :=
VARS_typecheck   :=
VARS_clean       :=
# old or near names -> the name a target reads instead
RENAMED_SERVER   := MODEL
RENAMED_WORKERS  := PROCESSES
RENAMED_PAGES    := SITE_PAGES
RENAMED_LATENCY_MS := SITE_LATENCY_MS

GOALS     := $(or $(MAKECMDGOALS),help)
GIVEN     := $(foreach v,$(.VARIABLES),$(if $(filter command line,$(origin $(v))),$(v)))
READ      := $(sort $(COMMON_VARS) $(foreach g,$(GOALS),$(VARS_$(g))))
UNREAD    := $(filter-out $(READ),$(GIVEN))
near_miss  = $(firstword $(filter $(READ),$(RENAMED_$(1)) $(1)S $(patsubst %S,%,$(1))))
why_unread = $(1)=$($(1)) is not read by make $(GOALS)$(if $(call near_miss,$(1)),: did you mean $(call near_miss,$(1))=?)
ifneq ($(UNREAD),)
$(error $(foreach v,$(UNREAD),$(call why_unread,$(v));) make $(GOALS) reads: $(or $(filter-out $(COMMON_VARS),$(READ)),nothing) (and $(COMMON_VARS)))
endif
ifneq ($(and $(HOST),$(filter HOST,$(READ))),)
ifeq ($(findstring ://,$(HOST)),)
$(error HOST=$(HOST) has no scheme: use HOST=http://$(HOST) (or echo://$(HOST) with PROTOCOL=echo))
endif
endif

.PHONY: help venv python-ft python-gil serve test test-model test-all lint typecheck clean locust loadtest loadtest-hosts compare bench crawl crawl-bench soak
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
	PYTHONWARNINGS=ignore $(BIN)/python -m pip install --quiet $(PIP_PREFER) -e '.[$(EXTRAS)]'
	touch $(STAMP)

## python-ft: build (or reuse) free-threaded CPython 3.13 in ~/.cache/iomodels/python; prints its path
## (then: make venv PYTHON=$(make -s python-ft); about 3 min the first time, docs/free-threading.md)
python-ft:
	@python3 tools/python_build.py --free-threaded

## python-gil: the same source built with the GIL, for a comparison that differs only in the GIL
python-gil:
	@python3 tools/python_build.py

## serve: run one server in the foreground (MODEL=asyncio PORT=8000 PROTOCOL=http HOST_BIND=127.0.0.1 ARGS=
## UPSTREAM=: redis starts a private redis-server for GET /db, redis://HOST:PORT uses a running one)
serve: venv
	$(BIN)/iomodels serve --model $(MODEL) --host $(HOST_BIND) --port $(PORT) --protocol $(PROTOCOL) \
		$(if $(UPSTREAM),--upstream $(UPSTREAM)) $(ARGS)

## Locust (loadtests/): HOST=http://... aims at a running server instead of starting one
USERS      ?= 100
SPAWN_RATE ?= 20
DURATION   ?= 30s
PROCESSES  ?= 0
WEB_PORT   ?= 8089
LOCUST_TARGET = $(if $(HOST),--host $(HOST))
LOCUST_COMMON = --protocol $(PROTOCOL) --users $(USERS) --spawn-rate $(SPAWN_RATE) --processes $(PROCESSES) \
	$(if $(CLASSES),--classes $(CLASSES)) $(if $(LOCUST_ARGS),--locust-args="$(LOCUST_ARGS)")

## locust: a server of MODEL and Locust's web UI on 127.0.0.1:WEB_PORT (Ctrl-C stops both)
## (MODEL=asyncio or HOST=http://... PROTOCOL=http USERS=100 SPAWN_RATE=20 PROCESSES=0 CLASSES= LOCUST_ARGS= WEB_PORT=8089)
locust: venv
	$(BIN)/iomodels locust --model $(MODEL) $(LOCUST_TARGET) --web-port $(WEB_PORT) $(LOCUST_COMMON)

## loadtest: one headless run into results/locust-<model>-<timestamp>/
## (MODEL=asyncio or HOST=http://... PROTOCOL USERS SPAWN_RATE PROCESSES CLASSES LOCUST_ARGS as locust, DURATION=30s)
loadtest: venv
	$(BIN)/iomodels loadtest --model $(MODEL) $(LOCUST_TARGET) --duration $(DURATION) $(LOCUST_COMMON)

## loadtest-hosts: loadtest across network namespaces (root): server, master, each worker on a host of its own
## (TEST_HOSTS=2 workers, LINK_RATE= e.g. 100mbit each way (tc tbf), PROCESSES per worker host;
## MODEL PROTOCOL USERS SPAWN_RATE CLASSES LOCUST_ARGS DURATION as loadtest)
TEST_HOSTS ?= 2
loadtest-hosts: venv
	$(BIN)/iomodels loadtest --model $(MODEL) --test-hosts $(TEST_HOSTS) $(if $(LINK_RATE),--link-rate $(LINK_RATE)) \
		--duration $(DURATION) $(LOCUST_COMMON)

## compare: the same headless scenario against each model, one report
## (MODELS="fork thread ..." default all; PROTOCOL USERS SPAWN_RATE PROCESSES CLASSES LOCUST_ARGS DURATION as loadtest)
compare: venv
	$(BIN)/iomodels compare $(if $(MODELS),--models "$(MODELS)") --duration $(DURATION) $(LOCUST_COMMON)

# One stamp per extra: pip runs again only when pyproject.toml changes.
$(VENV)/.extra-%-stamp: $(STAMP)
	PYTHONWARNINGS=ignore $(BIN)/python -m pip install --quiet -e '.[$*]'
	touch $@

# DURATION as loadtest takes it (30s, 2m, 1h30m, 45) turned into the seconds bench reads
BENCH_SECONDS = $(shell $(PYTHON) -c 'import re, sys; t = sys.argv[1].strip(); \
	m = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?", t); \
	print(int(m[1] or 0) * 3600 + int(m[2] or 0) * 60 + int(m[3] or 0) if t and m else t)' '$(DURATION)')
BENCH_DURATION = $(if $(filter command line environment,$(origin DURATION)),--duration $(BENCH_SECONDS))

## bench: every model x workload into results/<UTC timestamp>/
## (MODELS="fork thread" default all; WORKLOADS= default all; DURATION=10 seconds per run, or 1m as loadtest; QUICK=1; BENCH_ARGS=)
## (installs the references extra once: gunicorn, uvicorn; one load at a time: bench, loadtest, compare, crawl-bench and soak wait for each other)
bench: venv $(VENV)/.extra-references-stamp
	$(BIN)/iomodels bench $(if $(MODELS),--models "$(MODELS)") \
		$(if $(WORKLOADS),--workloads "$(WORKLOADS)") $(BENCH_DURATION) $(if $(QUICK),--quick) $(BENCH_ARGS)

## Crawlers (clients/crawl/): CRAWLER against a fresh server of MODEL and its /site/
CRAWLER         ?= asyncio
CONCURRENCY     ?= 10
SITE_PAGES      ?= 1000
SITE_LATENCY_MS ?= 10

## crawl: one crawl, printed as a table
## (CRAWLER=asyncio MODEL=asyncio CONCURRENCY=10 SITE_PAGES=1000 SITE_LATENCY_MS=10 ARGS=--json)
crawl: venv
	$(BIN)/iomodels crawl --crawler $(CRAWLER) --model $(MODEL) --concurrency $(CONCURRENCY) \
		--site-pages $(SITE_PAGES) --site-latency-ms $(SITE_LATENCY_MS) $(ARGS)

## crawl-bench: every crawler (and Scrapy) at 1, 10, 100, 500 into results/crawl-<timestamp>/
## (MODEL=asyncio CRAWL_BENCH_ARGS=; installs the scrapy extra once)
crawl-bench: venv $(VENV)/.extra-scrapy-stamp
	$(BIN)/iomodels crawl-bench --model $(MODEL) $(CRAWL_BENCH_ARGS)

## test: lint, typecheck, then the fast test suite (what CI runs; PYTEST_ARGS=)
test: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest -m "not slow" $(PYTEST_ARGS)

## test-model: the cross-model suites for one MODEL, slow tests included (MODEL=interpreters PYTHON=python3.13 PYTEST_ARGS=)
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

## test-all: every test, slow ones included (PYTEST_ARGS=)
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
