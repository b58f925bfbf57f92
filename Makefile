# refmgr developer tasks. Quick start: `make demo`, `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIP := $(BIN)/python -m pip --disable-pip-version-check

.PHONY: help install demo test lint check-alpha bench constraints clean

help:
	@echo "make demo         set up .venv and run refmgr end to end under build/demo"
	@echo "make test         set up .venv and run the test suite"
	@echo "make lint         ruff and mypy"
	@echo "make bench        run the benchmarks in benchmarks/"
	@echo "make check-alpha  check refs/alpha.npy + manifests/alpha.json are what scripts/make_alpha.py makes"
	@echo "make clean        remove .venv and build/"

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet -c constraints.txt -e '.[dev]'
	touch $@

install: $(STAMP)

demo: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/demo.sh

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check refmgr tests scripts benchmarks
	$(BIN)/mypy

check-alpha: $(STAMP)
	$(BIN)/python scripts/make_alpha.py --check

bench: $(STAMP)
	$(PIP) install --quiet -r benchmarks/requirements.txt
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

constraints: $(STAMP)
	{ head -2 constraints.txt; $(PIP) freeze --exclude-editable | grep -v "^#"; } > constraints.tmp && mv constraints.tmp constraints.txt

clean:
	rm -rf $(VENV) build
