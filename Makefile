# iomodels: every target creates the virtualenv first when it is missing.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

MODEL    ?= asyncio
PORT     ?= 8000
PROTOCOL ?= http
HOST_BIND ?= 127.0.0.1

.PHONY: venv serve test test-all lint typecheck clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## serve: run one server in the foreground (MODEL=asyncio PORT=8000 PROTOCOL=http)
serve: venv
	$(BIN)/iomodels serve --model $(MODEL) --host $(HOST_BIND) --port $(PORT) --protocol $(PROTOCOL) $(ARGS)

## test: lint, then the fast test suite (what CI runs)
test: venv
	$(BIN)/ruff check .
	$(BIN)/pytest -m "not slow" $(PYTEST_ARGS)

## test-all: every test, slow ones included
test-all: venv
	$(BIN)/ruff check .
	$(BIN)/pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check . || true

typecheck: venv
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
