# Two commands set everything up on a fresh machine with Python 3.11:
#   make book   builds the executed HTML book (_build/html/index.html)
#   make test   runs the whole test suite (it builds the book first: tests read the built pages)
#   make check  the fast inner loop: invlib's and gradekit's tests, no book, no browser, no nbgrader runs
# Others: make exercises (regenerate the student release), make student-repo DEST=<dir> (the answer-free tree
#         students get), make notebooks (the chapters' .ipynb copies for
#         Colab), make bench (speed measurements),
#         make grade ASSIGNMENT=<id> (sandboxed parallel autograding of a class; see README.md).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(abspath $(VENV))/bin
STAMP  := $(VENV)/.installed
# nbgrader shells out to `alembic` by name: the venv's bin/ must be on PATH for every target.
export PATH := $(BIN):$(PATH)
export PYTHONHASHSEED := 0
# One OpenMP thread per process for the book and the tests: every model here is tiny, and with two threads per
# process on a 2-core machine shared with a second process (pytest -n 2, an nbgrader kernel) torch's spin-waits
# made a 64x16 matmul take 11 ms instead of 0.02 ms -- a 100x slowdown. `make bench` sets threads itself.
THREADS := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
# Never export MPLBACKEND=Agg here: inside the book's kernels it turns plt.show() into a no-op and the
# executed chapters lose their figures (tests/course/test_browser.py checks they are there).

CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup book test check test-hostile test-nbgrader exercises student-repo notebooks bench grade linkcheck clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

setup: $(STAMP)

# The chapters' kernels load the book's IPython settings (figures as SVG) from book/_ipython, and matplotlib reads
# book/partN/matplotlibrc from the chapter's folder. The execution cache keys on a chapter's code only, so when these
# settings change every chapter is executed again (their hash is kept in _build/.figure-settings).
FIGURE_SETTINGS := book/_ipython/profile_default/ipython_kernel_config.py $(wildcard book/*/matplotlibrc)

book: setup
	@settings=$$(cat $(FIGURE_SETTINGS) | sha1sum | cut -d' ' -f1); \
	if [ -d _build/.jupyter_cache ] && [ "$$(cat _build/.figure-settings 2>/dev/null)" != "$$settings" ]; then \
	  echo "The figure settings changed: every chapter is executed again."; rm -rf _build/.jupyter_cache; fi; \
	mkdir -p _build && echo "$$settings" > _build/.figure-settings
	$(THREADS) INVLIB_STATIC_WIDGETS=1 IPYTHONDIR=$(abspath book/_ipython) $(BIN)/jupyter-book build . -W -n --keep-going
	@echo "The book: $(abspath _build/html/index.html)"

# The browser tests drive Debian's chromium (Playwright cannot download browsers here).
$(CHROMIUM):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver

test: book $(CHROMIUM)
	$(THREADS) $(BIN)/python -m pytest

# The fast inner loop: invlib's and gradekit's tests without the book build, the browser or nbgrader runs
# (tests/invlib, tests/gradekit; tests/course holds the book and assignment checks that `make test` adds).
check: setup
	$(THREADS) $(BIN)/python -m pytest tests/invlib tests/gradekit -m "not slow and not hostile" -p no:cacheprovider

# The hostile-submission grading tests alone (fork and memory bombs...; `make test` runs them too).
test-hostile: setup
	$(THREADS) $(BIN)/python -m pytest -m hostile -p no:cacheprovider

# nbgrader's own test suite (apps and preprocessors, shipped inside nbgrader) with the course's hardening
# injected into every nbgrader run ($JUPYTER_CONFIG_PATH); `make test` runs its autograde/feedback part.
test-nbgrader: setup
	$(THREADS) $(BIN)/python -m tests.gradekit.nbgrader_suite -rfE

exercises: setup
	$(BIN)/python -m tools.nbgrader_course release

# The student-facing repository (book, exercises, invlib, gradekit.testkit; no solutions/, hidden tests, submissions
# or rubrics), written to DEST and checked line by line against every solution and hidden-test block.
DEST ?= _build/student-repo
student-repo: setup
	$(BIN)/python -m tools.student_repo $(DEST)

# The chapters' .ipynb copies that the Colab launch button opens, written from their .md sources (run it after
# editing a chapter or the repository url in _config.yml; tests/course/test_notebooks_paired.py checks they are current).
notebooks: setup
	$(BIN)/python -m tools.paired_notebooks

bench: setup
	$(BIN)/pip install --quiet FrEIA==0.2  # only the benchmark compares against FrEIA
	$(BIN)/python -m benchmarks

# Grade a class: make grade ASSIGNMENT=ex01_functions [SUBMISSIONS=<folder or zip>] [WORKERS=2] [SCHEDULER=tcp://host:8786]
SUBMISSIONS ?= _grading/submitted
WORKERS ?= 2
grade: setup
	@test -n "$(ASSIGNMENT)" || { echo "usage: make grade ASSIGNMENT=<id> [SUBMISSIONS=<folder or zip>] [WORKERS=2] [SCHEDULER=<dask address>]"; exit 2; }
	$(BIN)/python -m gradekit grade $(ASSIGNMENT) $(SUBMISSIONS) --workers $(WORKERS) $(if $(SCHEDULER),--scheduler $(SCHEDULER))

# Optional: check the book's external links (needs internet; not part of `make test`).
linkcheck: setup
	$(BIN)/jupyter-book build . --builder linkcheck

clean:
	rm -rf _build _grading .pytest_cache
