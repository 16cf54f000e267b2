# The README's two commands are `make demo` and `make test`; both run `setup` first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TORCH  := torch==2.13.0

.PHONY: setup demo test bench lint

setup: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch first, from the CPU wheel on disk, so the project's range (torch>=2.3) installs nothing more.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip show torch >/dev/null 2>&1 || $(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: setup
	$(BIN)/compete demo

test: setup
	$(BIN)/python -m pytest -n 2 --dist loadgroup --nbmake tests notebooks

bench: setup
	$(BIN)/python -m benchmarks

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
