# refmgr developer tasks. Quick start: `make demo`, `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FISH_STAMP := $(VENV)/.fish-installed
PIP := $(BIN)/python -m pip --disable-pip-version-check

.PHONY: help install install-fish demo test test-light lint check-alpha bench constraints clean

help:
	@echo "make demo         set up .venv and run refmgr end to end under build/demo"
	@echo "make test         set up .venv with the Fish Speech CPU test stack and run every test"
	@echo "make test-light   run the tests in the light .venv (Fish Speech tests skip without torch)"
	@echo "make lint         ruff and mypy"
	@echo "make bench        run the benchmarks in benchmarks/"
	@echo "make check-alpha  check refs/alpha.npy + manifests/alpha.json are what scripts/make_alpha.py makes"
	@echo "make clean        remove .venv and build/"

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet -c constraints.txt -e '.[dev]'
	touch $@

install: $(STAMP)

# The Fish Speech CPU test stack (torch CPU + the minimal fish-speech set), exact versions,
# no dependency resolution. fish-speech 0.1.0's DAC module runs pyrootutils at import,
# which needs a .project-root marker above site-packages (never in it: site-packages holds
# top-level `tools` and `tests` packages of fish-speech and descript-audio-codec).
$(FISH_STAMP): $(STAMP) requirements-fish-cpu.txt
	$(PIP) install --quiet --no-deps -r requirements-fish-cpu.txt
	touch "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/../.project-root"
	touch $@

install-fish: $(FISH_STAMP)

demo: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/demo.sh

test: $(FISH_STAMP)
	REFMGR_REQUIRE_FISH=1 $(BIN)/python -m pytest

test-light: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check refmgr tests scripts benchmarks
	$(BIN)/mypy

check-alpha: $(STAMP)
	$(BIN)/python scripts/make_alpha.py --check

bench: $(FISH_STAMP)
	$(PIP) install --quiet -r benchmarks/requirements.txt
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

constraints: $(STAMP)
	{ head -2 constraints.txt; $(PIP) freeze --exclude-editable | grep -v "^#"; } > constraints.tmp && mv constraints.tmp constraints.txt

clean:
	rm -rf $(VENV) build
