# l1forge: `make demo` sets up and runs the main job on a small default; `make test` sets up and
# runs the full test suite (what .ci/run runs). Setup is idempotent: a second run takes seconds.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PYTHON ?= python3.11
VENV := .venv
STAMP := $(VENV)/.l1forge-setup
# The finn backend's own environment (finn-plus' pins clash with .venv's; DESIGN.md): driven
# through a subprocess worker, never imported by l1forge.
FINN_VENV := .venv-finn
FINN_REQS := compiler/backends/finn/environment.txt
FINN_STAMP := $(FINN_VENV)/.l1forge-setup
# pip on the build machines lists local indexes it cannot read; that noise hides real messages.
PIPQUIET := { grep -v -e 'is ignored: it is neither a file nor a directory' || true; }

.PHONY: setup demo test test-fast bench clean

# $(call need,COMMAND,DEBIAN_PACKAGE,WHY): install a missing system tool with apt-get when root,
# else stop with what to install.
need = command -v $(1) >/dev/null || { \
  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
    { apt-get install -y -q $(2) || { apt-get update -q && apt-get install -y -q $(2); }; } >/dev/null; \
  else echo "error: $(1) not found ($(3)); install it: sudo apt-get install $(2)"; exit 1; fi; }

setup: $(STAMP) $(FINN_STAMP)

$(STAMP): pyproject.toml Makefile
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install CPython 3.11 (l1forge pins wheels built for it)"; exit 1; }
	@$(call need,g++,g++,hls4ml C simulation needs it)
	@$(call need,yosys,yosys,the rtl backend synthesizes with it)
	@$(call need,chromium,chromium,the report tests render report.html in headless chromium)
	@[ -x $(VENV)/bin/python ] || $(PYTHON) -m venv $(VENV)
	@echo "setup: installing pinned dependencies into $(VENV) (first run about 1 minute)"
	@$(VENV)/bin/python -m pip install -q --upgrade pip 2>&1 | $(PIPQUIET)
	@# The CPU build of torch first: any other route resolves to a multi-GB CUDA build.
	@$(VENV)/bin/python -m pip install -q torch==2.13.0 2>&1 | $(PIPQUIET)
	@# The keras extra (TensorFlow, QKeras: about 20 s) lets the tests compare with QKeras and hls4ml's Keras path.
	@$(VENV)/bin/python -m pip install -q -e '.[test,keras]' 2>&1 | $(PIPQUIET)
	@$(VENV)/bin/python -m pip check
	@touch $(STAMP)
	@echo "setup: done ($(VENV)/bin/l1forge)"

$(FINN_STAMP): $(FINN_REQS) Makefile
	@[ -x $(FINN_VENV)/bin/python ] || $(PYTHON) -m venv $(FINN_VENV)
	@echo "setup: installing finn-plus 1.6.1 into $(FINN_VENV) (its own pins; first run about 1 minute)"
	@$(FINN_VENV)/bin/python -m pip install -q --upgrade pip 2>&1 | $(PIPQUIET)
	@# CPU torch first (as for .venv), then finn-plus without its clashing or unused pins.
	@$(FINN_VENV)/bin/python -m pip install -q torch==2.13.0 2>&1 | $(PIPQUIET)
	@$(FINN_VENV)/bin/python -m pip install -q -r $(FINN_REQS) 2>&1 | $(PIPQUIET)
	@$(FINN_VENV)/bin/python -m pip install -q --no-deps finn-plus==1.6.1 2>&1 | $(PIPQUIET)
	@$(FINN_VENV)/bin/python -c "import finn.custom_op.fpgadataflow, finn.core.onnx_exec"
	@touch $(FINN_STAMP)

demo: setup
	$(VENV)/bin/l1forge demo

# The full suite, one worker per core (pytest-xdist); the slowest tests are listed at the end.
test: setup
	$(VENV)/bin/python -m pytest -q -n auto --dist worksteal --durations=15

# The fast tier: unit tests of ops, types, passes, parsers, reports and CLI errors; no external tool.
test-fast: setup
	$(VENV)/bin/python -m pytest -q -m "not slow and not tools"

bench: setup
	$(VENV)/bin/python benchmarks/jet_generation.py
	$(VENV)/bin/python benchmarks/shower_generation.py
	$(VENV)/bin/python benchmarks/emulator.py
	@echo "accuracy: $(VENV)/bin/l1forge data jets --n-per-class 20000 --seed 100 --out jets100k.h5 && \
	$(VENV)/bin/python benchmarks/tagger_accuracy.py --data jets100k.h5 --epochs 25 (about 25 minutes)"

clean:
	rm -rf $(VENV) $(FINN_VENV) demo_out .pytest_cache
