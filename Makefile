# l1forge: `make demo` sets up and runs the main job on a small default; `make test` sets up and
# runs the full test suite (what .ci/run runs). Setup is idempotent: a second run takes seconds.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PYTHON ?= python3.11
VENV := .venv
STAMP := $(VENV)/.l1forge-setup
# pip on the build machines lists local indexes it cannot read; that noise hides real messages.
PIPQUIET := { grep -v -e 'is ignored: it is neither a file nor a directory' || true; }

.PHONY: setup demo test test-fast bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install CPython 3.11 (l1forge pins wheels built for it)"; exit 1; }
	@command -v g++ >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then apt-get install -y -q g++ >/dev/null; \
	  else echo "error: g++ not found (hls4ml C simulation needs it); install it: sudo apt-get install g++"; exit 1; fi; }
	@command -v yosys >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then { apt-get install -y -q yosys || { apt-get update -q && apt-get install -y -q yosys; }; } >/dev/null; \
	  else echo "error: yosys not found (the rtl backend synthesizes with it); install it: sudo apt-get install yosys"; exit 1; fi; }
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then { apt-get install -y -q chromium || { apt-get update -q && apt-get install -y -q chromium; }; } >/dev/null; \
	  else echo "error: chromium not found (the report tests render report.html in headless chromium); install it: sudo apt-get install chromium"; exit 1; fi; }
	@[ -x $(VENV)/bin/python ] || $(PYTHON) -m venv $(VENV)
	@echo "setup: installing pinned dependencies into $(VENV) (first run about 1 minute)"
	@$(VENV)/bin/python -m pip install -q --upgrade pip 2>&1 | $(PIPQUIET)
	@# The CPU build of torch first: any other route resolves to a multi-GB CUDA build.
	@$(VENV)/bin/python -m pip install -q torch==2.13.0 2>&1 | $(PIPQUIET)
	@$(VENV)/bin/python -m pip install -q -e '.[test]' 2>&1 | $(PIPQUIET)
	@$(VENV)/bin/python -m pip check
	@touch $(STAMP)
	@echo "setup: done ($(VENV)/bin/l1forge)"

demo: setup
	$(VENV)/bin/l1forge demo

test: setup
	$(VENV)/bin/python -m pytest -q

test-fast: setup
	$(VENV)/bin/python -m pytest -q -m "not slow"

bench: setup
	$(VENV)/bin/python benchmarks/jet_generation.py
	$(VENV)/bin/python benchmarks/emulator.py
	@echo "accuracy: $(VENV)/bin/l1forge data jets --n-per-class 20000 --seed 100 --out jets100k.h5 && \
	$(VENV)/bin/python benchmarks/tagger_accuracy.py --data jets100k.h5 --epochs 25 (about 25 minutes)"

clean:
	rm -rf $(VENV) demo_out .pytest_cache
