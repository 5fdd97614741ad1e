# Sightline: the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The suite's PostgreSQL (CI sets it too); override for another server.
export SIGHTLINE_TEST_POSTGRES_DSN ?= postgresql://postgres@127.0.0.1:5432/test

PACKAGE_FILES := $(wildcard libs/*/pyproject.toml services/*/pyproject.toml cli/pyproject.toml)

.PHONY: help install system-deps demo up test test-fast lint format contracts bench screenshots clean proto-baseline

help:
	@echo "make demo       install everything, then run the local stack with a scripted pair of glasses (sightline up --demo)"
	@echo "make test       install everything, then run the whole test suite"
	@echo "make test-fast  unit and contract tests only"
	@echo "make lint       ruff + buf lint + contract drift check"
	@echo "make contracts  regenerate libs/contracts from proto/"
	@echo "make bench      run the benchmarks in bench/ and write bench/results/"
	@echo "make screenshots  refresh docs/images/ from the HUD browser test"

install: system-deps $(STAMP)

system-deps:
	@scripts/install-system-deps.sh

$(STAMP): requirements/dev.txt $(PACKAGE_FILES)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements/dev.txt
	touch $@

demo: install
	$(BIN)/sightline up --demo

up: demo

test: install
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q tests/contract libs services/overlay/tests

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/buf lint
	$(BIN)/buf breaking --against libs/contracts/baseline.binpb
	$(BIN)/python libs/contracts/generate.py --check

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

contracts: install
	$(BIN)/buf lint
	$(BIN)/python libs/contracts/generate.py

bench: install
	$(BIN)/python -m bench

screenshots: install
	SIGHTLINE_SCREENSHOT_DIR=$(CURDIR)/docs/images $(BIN)/python -m pytest -q tests/e2e/test_hud_browser.py tests/e2e/test_hud_labels_browser.py tests/e2e/test_hud_cards_browser.py

clean:
	rm -rf $(VENV) .sightline .pytest_cache .ruff_cache

# When a release is cut: what it speaks becomes the baseline proto/ may only add to.
proto-baseline: install
	$(BIN)/buf build -o libs/contracts/baseline.binpb
