# The README's two commands, each of which also sets up what it needs on a fresh machine:
#   make demo   a real standard-tier evaluation (metrics table + learning-curve plot)
#   make test   lint, type check and the default test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_OUT ?= runs/demo

.PHONY: setup demo test test-slow bench clean

setup: $(VENV)/.installed

# torch is installed first and on its own: any torch >= 2.3 that is already there is kept
# (GPU users: install your CUDA build first); otherwise 2.13.0, which on a CPU-only machine with
# a local CPU wheel avoids pip pulling the multi-GB CUDA build as a dependency.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install -q "torch==2.13.0"
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $@

# tlbench's own PPO through the standard tier of maze/inverse: 5 base models x 5 transfers with
# their paired scratch controls, on 8 vector envs each; the table and curves.png show transfer
# learning far faster than scratch.
demo: setup
	$(BIN)/tlbench evaluate baselines/ppo --scenario maze/inverse --tier standard --out $(DEMO_OUT)

test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 -q

test-slow: setup
	$(BIN)/python -m pytest -n 2 -q -m slow

bench: setup
	$(BIN)/python benchmarks/envs.py

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache .ruff_cache
