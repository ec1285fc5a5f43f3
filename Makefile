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
	@echo "make install-nes  a Python 3.13 venv (.venv-nes) with NES Super Mario Bros. for lesson 06"
	@echo "make test-nes   the NES tests and lesson 06 in that venv"
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

# Lesson 06 on NES Super Mario Bros. (SuperMarioBros-1-1-v0), the PyTorch tutorial's own game:
# gym-super-mario-bros >= 9 needs Python >= 3.13, so it gets a venv of its own beside $(VENV).
# torch comes from PyPI, unpinned (there is no CPU build of $(TORCH_SPEC) for 3.13 here): its
# CUDA build, which also runs on the CPU: ~3 GB of wheels (torch 555 MB, triton 248 MB, NVIDIA
# libraries ~2.2 GB), 6.5 GB on disk. NES_TORCH can name another source (docs/troubleshooting.md).
# No python3.13 on PATH? NES_PYTHON=/path/to/python3.13, or with pyenv PYENV_VERSION=3.13.0.
NES_PYTHON ?= python3.13
NES_VENV ?= .venv-nes
NES_TORCH ?= torch
.PHONY: install-nes test-nes

install-nes:
	@$(NES_PYTHON) -c 'import sys; assert sys.version_info >= (3, 13), f"NES Super Mario needs Python >= 3.13, $(NES_PYTHON) is {sys.version.split()[0]}"' \
		|| { echo "make install-nes needs Python >= 3.13: pass NES_PYTHON=/path/to/python3.13 (pyenv: PYENV_VERSION=3.13.0 make install-nes)"; exit 1; }
	$(NES_PYTHON) -m venv $(NES_VENV)
	$(NES_VENV)/bin/python -m pip install $(NES_TORCH)
	$(NES_VENV)/bin/python -m pip install -e ".[course,dev,nes]"
	$(NES_VENV)/bin/python -c 'from rlcourse.envs import make_env; make_env("SuperMarioBros-1-1-v0").close(); print("NES Super Mario Bros. 1-1 runs")'
	@echo "Installed. Next: make test-nes (or make lab VENV=$(NES_VENV); lesson 06 then trains on 1-1)"

# The tests that play the NES game (skipped in $(VENV)), then lesson 06 at the smoke budget,
# which trains on SuperMarioBros-1-1-v0 when the package is installed.
test-nes:
	RLCOURSE_SMOKE=1 OMP_NUM_THREADS=1 $(NES_VENV)/bin/python -m pytest -p no:cacheprovider -k nes \
		tests/test_nes_mario.py tests/test_experiment_nes_mario.py tests/test_pretrained.py tests/test_envs.py
	RLCOURSE_SMOKE=1 OMP_NUM_THREADS=1 $(NES_VENV)/bin/python -m pytest -p no:cacheprovider \
		notebooks/06_ddqn_mario.ipynb --nbval-lax --nbval-current-env
