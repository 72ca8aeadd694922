# Two commands set everything up on a fresh machine with Python 3.11:
#   make book   builds the executed HTML book (_build/html/index.html)
#   make test   runs the whole test suite (it builds the book first: tests read the built pages)
# Others: make exercises (regenerate the student release), make bench (speed measurements).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(abspath $(VENV))/bin
STAMP  := $(VENV)/.installed
# nbgrader shells out to `alembic` by name: the venv's bin/ must be on PATH for every target.
export PATH := $(BIN):$(PATH)
export PYTHONHASHSEED := 0
# Quiet, deterministic matplotlib in headless runs.
export MPLBACKEND := Agg

.PHONY: setup book test exercises bench clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

setup: $(STAMP)

book: setup
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "The book: $(abspath _build/html/index.html)"

test: book
	$(BIN)/python -m pytest

exercises: setup
	$(BIN)/python -m tests.nbgrader_course release

bench: setup
	$(BIN)/python -m benchmarks

clean:
	rm -rf _build _grading .pytest_cache
