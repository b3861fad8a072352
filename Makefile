# redwatch: two commands for a fresh machine — `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
SRC    := src tests bench docs/examples

.PHONY: demo test install install-all lint typecheck services pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip setuptools wheel

$(VENV)/.installed-demo: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e '.[torch,onnx]'
	touch $@

$(VENV)/.installed-all: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e '.[all]'
	# MovieLens-100k for the shilling tests and bench: only recbole's data files are read,
	# never its code, so its heavy dependency tree (an old ray, tensorboard) is not installed
	$(PIP) install --quiet --no-deps recbole==1.2.1
	touch $@ $(VENV)/.installed-demo

install: $(VENV)/.installed-demo
install-all: $(VENV)/.installed-all

## demo: create .venv, install, run the bundled red-team demo
demo: install
	$(BIN)/redwatch demo

## test: install every extra, start test services, lint, type-check, run the whole suite
test: install-all services lint typecheck pytest

services:
	bash scripts/test-services.sh

lint:
	$(BIN)/ruff check $(SRC)
	$(BIN)/ruff format --check $(SRC)

typecheck:
	$(BIN)/mypy src

pytest:
	$(BIN)/pytest -n 2 --dist loadfile --durations=30

bench: install-all
	$(BIN)/python bench/bench_hopskipjump.py
	$(BIN)/python bench/bench_apgd.py
	$(BIN)/python bench/bench_square.py
	$(BIN)/python bench/bench_signopt.py
	$(BIN)/python bench/bench_trees.py
	$(BIN)/python bench/bench_demo.py
	$(BIN)/python bench/bench_integrity.py
	$(BIN)/python bench/bench_harden.py
	$(BIN)/python bench/bench_guard_latency.py
	$(BIN)/python bench/bench_guard_detection.py
	$(BIN)/python bench/bench_guard_extraction.py
	$(BIN)/python bench/bench_guard_queries.py
	$(BIN)/python bench/bench_guard_events.py
	$(BIN)/python bench/bench_guard_proxy.py
	$(BIN)/python bench/bench_ip_steal.py
	$(BIN)/python bench/bench_ip_watermark.py
	$(BIN)/python bench/bench_ip_api.py
	$(BIN)/python bench/bench_ip_fingerprint.py
	$(BIN)/python bench/bench_data_labels.py --seeds 0,1
	$(BIN)/python bench/bench_data_backdoor.py
	$(BIN)/python bench/bench_data_shilling.py
	$(BIN)/python bench/bench_privacy_mia.py
	$(BIN)/python bench/bench_audit_privacy_rank.py
	$(BIN)/python bench/bench_service_ingest.py
	$(BIN)/python bench/bench_monitor_drift.py
	$(BIN)/python bench/bench_llm_detectors.py
	$(BIN)/python bench/bench_llm_guard.py
	$(BIN)/python bench/table.py

clean:
	rm -rf $(VENV) .redwatch redwatch-report .pytest_cache .mypy_cache .ruff_cache
