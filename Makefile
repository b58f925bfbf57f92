# refmgr developer tasks. Quick start: `make demo`, `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FISH_STAMP := $(VENV)/.fish-installed
QA_STAMP := $(VENV)/.qa-installed
CHROMIUM_INSTALL := apt-get update && apt-get install -y chromium chromium-driver
RAY_STAMP := $(VENV)/.ray-installed
# The oldest numpy / pycodec2 pair refmgr admits (pyproject.toml): numpy 1.26 is what Fish
# Speech's own pins lead to. .venv-compat runs the core tests under it.
COMPAT_VENV ?= .venv-compat
COMPAT_STAMP := $(COMPAT_VENV)/.installed
COMPAT_PINS := numpy==1.26.4 pycodec2==3.1.0
COMPAT_TESTS := tests/backends/test_codec2.py tests/commands/test_add.py tests/test_tokens.py tests/commands/test_validate_cases.py tests/render/test_incremental.py
# The committed example voice is pinned to pycodec2 4.1.1: under 3.1 it is (rightly) a stale pin.
COMPAT_DESELECT := --deselect tests/commands/test_validate_cases.py::test_the_good_repository_is_valid
PIP := $(BIN)/python -m pip --disable-pip-version-check

.PHONY: help install install-fish install-qa install-ray install-browser demo test test-light test-compat coverage gpu-wheels lint check-alpha bench constraints clean

help:
	@echo "make demo         set up .venv and run refmgr end to end under build/demo"
	@echo "make test         set up .venv with the Fish Speech CPU test stack, the quality"
	@echo "                  scorers (refmgr[qa]) and headless Chromium (apt-get, as root) and"
	@echo "                  run every test"
	@echo "make test-compat  run the core tests under numpy 1.26 + pycodec2 3.1 (.venv-compat)"
	@echo "make gpu-wheels   fill wheels/ for scripts/gpu-check.sh on a machine without network"
	@echo "make coverage     run every test under coverage.py (child processes too); report in build/coverage"
	@echo "make test-light   run the tests in the light .venv (Fish Speech tests skip without torch)"
	@echo "make lint         ruff and mypy"
	@echo "make bench        run the benchmarks in benchmarks/"
	@echo "make check-alpha  check refs/alpha.npy + manifests/alpha.json are what scripts/make_alpha.py makes"
	@echo "make clean        remove .venv and build/"

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet -c constraints.txt -e '.[dev,deliver,browser]'
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

# The quality scorers (refmgr[qa]) over the Fish Speech stack, whose CPU torch they reuse:
# constraints.txt pins torch==2.13.0, so pip keeps it rather than resolving a CUDA build.
$(QA_STAMP): $(FISH_STAMP) pyproject.toml constraints.txt
	$(PIP) install --quiet -c constraints.txt -e '.[dev,deliver,qa,browser]'
	touch $@

install-qa: $(QA_STAMP)

# The review page's browser test (tests/deliver/test_report_browser.py) drives Debian's
# chromium and its driver through Selenium (refmgr[browser], in every .venv above): they are
# installed with apt-get where make runs as root (CI) and they are missing. Elsewhere the
# test fails, naming the command.
install-browser: $(STAMP)
	-@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	else \
		echo "make: the browser test needs chromium and chromedriver: $(CHROMIUM_INSTALL)" >&2; \
	fi

# The Ray executor (refmgr[ray]), whose tests start one local 2-CPU cluster per session.
$(RAY_STAMP): $(QA_STAMP) pyproject.toml constraints.txt
	$(PIP) install --quiet -c constraints.txt -e '.[dev,deliver,qa,browser,ray]'
	touch $@

install-ray: $(RAY_STAMP)

$(COMPAT_STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(COMPAT_VENV)
	{ grep -vE '^(numpy|pycodec2)==' constraints.txt; printf '%s\n' $(COMPAT_PINS); } > $(COMPAT_VENV)/constraints.txt
	$(COMPAT_VENV)/bin/python -m pip --disable-pip-version-check install --quiet -c $(COMPAT_VENV)/constraints.txt -e '.[dev]'
	touch $@

test-compat: $(COMPAT_STAMP)
	$(COMPAT_VENV)/bin/python -m pytest -q -p no:cacheprovider $(COMPAT_TESTS) $(COMPAT_DESELECT)

# The wheel folder scripts/gpu-check.sh installs from, on a GPU machine without network.
GPU_PYTHON_VERSION ?= 3.12
gpu-wheels:
	PYTHON=$(PYTHON) bash scripts/gpu-wheels.sh $(GPU_PYTHON_VERSION) wheels

demo: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/demo.sh

# test-compat first; then everything, with the resolver check of the README's GPU install
# (needs the package index) and the byte comparison of token files against .venv-compat.
test: $(RAY_STAMP) install-browser test-compat
	REFMGR_REQUIRE_FISH=1 REFMGR_REQUIRE_QA=1 REFMGR_REQUIRE_RAY=1 REFMGR_CHECK_RESOLVER=1 REFMGR_REQUIRE_COMPAT=1 \
	REFMGR_COMPAT_PYTHON="$(CURDIR)/$(COMPAT_VENV)/bin/python" $(BIN)/python -m pytest

# Line coverage of refmgr/ over the whole suite, the refmgr processes it starts included
# ([tool.coverage.run] in pyproject.toml). COVERAGE_FILE is absolute, so children that run
# in a test's temporary directory write their data next to the parent's.
# The file-size-limit test is left out: its child's coverage data hits the 40 kB limit.
COVERAGE_DIR := $(CURDIR)/build/coverage
COVERAGE_DESELECT := --deselect tests/render/test_interruptions.py::test_write_refused_half_way_leaves_nothing_half_written
coverage: $(QA_STAMP) install-browser
	rm -rf $(COVERAGE_DIR) && mkdir -p $(COVERAGE_DIR)
	COVERAGE_FILE=$(COVERAGE_DIR)/.coverage REFMGR_REQUIRE_FISH=1 REFMGR_REQUIRE_QA=1 \
		$(BIN)/python -m coverage run -m pytest -q -p no:cacheprovider $(COVERAGE_DESELECT) $(COVERAGE_ARGS)
	COVERAGE_FILE=$(COVERAGE_DIR)/.coverage $(BIN)/python -m coverage combine -q
	COVERAGE_FILE=$(COVERAGE_DIR)/.coverage $(BIN)/python -m coverage report > $(COVERAGE_DIR)/report.txt
	tail -1 $(COVERAGE_DIR)/report.txt

test-light: $(STAMP) install-browser
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check refmgr tests scripts benchmarks
	$(BIN)/mypy

check-alpha: $(STAMP)
	$(BIN)/python scripts/make_alpha.py --check

bench: $(RAY_STAMP)
	$(PIP) install --quiet -r benchmarks/requirements.txt
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

constraints: $(STAMP)
	{ head -2 constraints.txt; $(PIP) freeze --exclude-editable | grep -v "^#"; } > constraints.tmp && mv constraints.tmp constraints.txt

clean:
	rm -rf $(VENV) $(COMPAT_VENV) build
