# rlcourse: `make install` then `make test` (that is all CI runs); `make lab` opens the course.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# On machines without CUDA, this CPU build is installed first so pip pulls no CUDA wheels.
TORCH_SPEC ?= torch==2.13.0
# Extra arguments for `make lab`, e.g. LAB_ARGS="--no-browser --port=8890".
LAB_ARGS ?=
# Jupyter refuses to run as root (containers, CI) unless told it may.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)
# pytest workers: notebooks and unit tests run in parallel on the 2 CI cores.
WORKERS ?= 2
export PIP_DISABLE_PIP_VERSION_CHECK = 1

.PHONY: install test test-fast lab student notebooks lint bench results help

help:
	@echo "make install    create $(VENV) and install rlcourse with its course, dev and bench extras"
	@echo "make test       lint + unit tests + doctests + every notebook (both versions, smoke budget)"
	@echo "make test-fast  lint + unit tests + doctests: no notebooks, browser or install tests"
	@echo "make lab        open JupyterLab on notebooks/"
	@echo "make student    regenerate notebooks/student/ from notebooks/"
	@echo "make notebooks  regenerate notebooks/student/, run all notebooks, save them with outputs"
	@echo "make lint       ruff check, ruff format --check, mypy"
	@echo "make bench      run the speed benchmarks in bench/ (minutes)"
	@echo "make results    redraw the result figures (docs/results.md) from the committed CSV logs (seconds)"

install:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), f"rlcourse needs Python >= 3.10, $(PYTHON) is {sys.version.split()[0]}"'
	$(PYTHON) -m venv $(VENV)
	@if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then \
		echo "CUDA GPU found: pip installs a CUDA build of torch"; \
	else \
		echo "No CUDA GPU: installing $(TORCH_SPEC) (CPU build) first"; \
		$(PY) -m pip install "$(TORCH_SPEC)"; \
	fi
	$(PY) -m pip install -e ".[course,dev,bench]"
	@# The browser test plays the inline video in Debian's Chromium (Playwright drives it;
	@# it downloads no browser of its own). Installed where we may; else that test skips.
	@if ! command -v chromium >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "Installing Debian's chromium for the browser video test"; \
			(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
				|| echo "warning: chromium could not be installed: the browser video test will be skipped"; \
		else \
			echo "note: no chromium (apt-get install chromium): the browser video test will be skipped"; \
		fi; \
	fi
	@echo "Installed. Next: make test (or make lab)"

test: lint
	RLCOURSE_SMOKE=1 OMP_NUM_THREADS=1 $(PY) -m pytest -n $(WORKERS) --dist loadfile \
		tests rlcourse notebooks --nbval-lax --nbval-current-env -p no:cacheprovider

# The inner loop: what `make test` runs but the notebooks, the browser and the wheel install
# (pytest markers `notebooks`, `browser`, `slow`; see tests/conftest.py).
test-fast: lint
	RLCOURSE_SMOKE=1 OMP_NUM_THREADS=1 $(PY) -m pytest -n $(WORKERS) --dist loadfile \
		-m "not slow and not browser and not notebooks" tests rlcourse -p no:cacheprovider

lab:
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(ALLOW_ROOT) $(LAB_ARGS)

student:
	$(PY) -m rlcourse.course.nbtools student

# Regenerates notebooks/student/, then runs all 18 notebooks (2 at a time) and saves them with
# their (deterministic) outputs: lessons 01, 04 and 08 at the full budget, the others with
# RLCOURSE_SMOKE=1 RLCOURSE_OUTPUTS=1 (nbtools sets them per notebook: docs/course_rules.md).
notebooks:
	OMP_NUM_THREADS=1 $(PY) -m rlcourse.course.nbtools notebooks --jobs 2

lint:
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy rlcourse

bench:
	$(PY) bench/env_throughput.py
	$(PY) bench/replay.py
	$(PY) bench/cartpole_solve.py
	$(PY) bench/reinforce_cartpole.py --with-dqn
	$(PY) bench/a2c_throughput.py
	$(PY) bench/atari_dqn_speed.py
	$(PY) bench/dqn_update.py

results:
	$(PY) tools/make_results.py
