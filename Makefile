# Parley. `make run` sets everything up and opens the window; `make test` runs every check.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.parley-installed
# GPU=vulkan|cuda|rocm|metal runs llama.cpp with that backend: tools/llama-build builds
# llama-cpp-python for it once per version (cached in ~/.cache/parley-build) beside the venv's
# CPU build, and PYTHONPATH puts it first. The venv's own build is never replaced.
GPU ?=

.PHONY: setup run test lint bench starter clean

$(STAMP): pyproject.toml
	@python=$$(tools/find-python) || exit 1; \
	if [ ! -x $(BIN)/python ] || ! $(BIN)/python -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then \
		echo "Creating $(VENV) with $$python"; rm -rf $(VENV); "$$python" -m venv $(VENV) || exit 1; \
	fi
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP) starter

# The starter model goes into the user's models folder (PARLEY_DATA_DIR if set).
starter: $(STAMP)
	$(BIN)/parley models install-starter

run: setup
	@site=""; if [ -n "$(GPU)" ]; then site=$$(tools/llama-build $(GPU)) || exit 1; fi; \
	PYTHONPATH="$$site" $(BIN)/parley

test: $(STAMP)
	tools/run-tests

lint: $(STAMP)
	$(BIN)/ruff check app tests bench
	$(BIN)/lint-imports
	$(BIN)/mypy app

# Every bench prints one JSON line and exits non-zero on a miss: stop at the first one.
bench: $(STAMP)
	@for b in bench/[!_]*.py; do echo "== $$b"; QT_QPA_PLATFORM=offscreen $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .cache build dist .pytest_cache .ruff_cache .mypy_cache

# Installable builds (issue 8): `make package` builds dist/parley with PyInstaller on this OS,
# with llama.cpp's Vulkan backend on Linux (GPU=cpu for a CPU-only build, GPU=cuda|rocm for
# those); `make deb` wraps it into dist/parley_<version>_<arch>.deb and a tarball.
.PHONY: package deb
package: $(STAMP)
	GPU="$(GPU)" BIN="$(BIN)" packaging/build.sh

deb: package
	installer/linux/build-deb.sh
