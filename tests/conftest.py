import pytest
import torch

from rlcourse.course.exercises.core import ATTEMPTS

# Tiny networks gain nothing from intra-op threads, and with pytest-xdist workers on 2 cores
# the threads only fight each other (OpenMP spin-waits): one thread per test process.
torch.set_num_threads(1)


_SB3_LOGDIR: list[str] = []


def pytest_configure(config):
    """Stable-Baselines3 makes an empty folder in the system's temp dir for each model that
    learns (lesson 05's comparison, in the notebooks' kernels, which inherit this process's
    environment): point them at one folder of this test process, removed at its end."""
    import os
    import tempfile

    if "SB3_LOGDIR" not in os.environ:
        _SB3_LOGDIR.append(tempfile.mkdtemp(prefix="rlcourse-tests-sb3-"))
        os.environ["SB3_LOGDIR"] = _SB3_LOGDIR[0]


def pytest_unconfigure(config):
    import os
    import shutil

    for folder in _SB3_LOGDIR:
        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop("SB3_LOGDIR", None)
    _SB3_LOGDIR.clear()


@pytest.fixture(autouse=True)
def _fresh_attempts():
    """Each test starts at an exercise's first try (the hints grow with the wrong tries)."""
    ATTEMPTS.clear()
    yield
    ATTEMPTS.clear()


def load_script(path: str):
    """A script of bench/, experiments/ or tools/ (they are not packages), e.g.
    ``load_script("experiments/nes_mario")``, imported as a module for its tests. Its folder goes
    on sys.path, as when the script runs, so it can import its sibling scripts."""
    import importlib.util
    import sys
    from pathlib import Path

    file = Path(__file__).resolve().parents[1] / f"{path}.py"
    if str(file.parent) not in sys.path:
        sys.path.insert(0, str(file.parent))
    spec = importlib.util.spec_from_file_location(file.stem, file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def dqn_config_of(command: str):
    """The DQNConfig an ``rlcourse train dqn ...`` command line trains with (its preset, its
    flags and its seed), as the command line builds it."""
    import shlex

    from rlcourse.agents.dqn import PRESETS
    from rlcourse.cli import build_parser
    from rlcourse.config import options_to_values
    from rlcourse.registry import ALGORITHMS

    args = build_parser().parse_args(shlex.split(command)[1:])
    values = options_to_values(args, ALGORITHMS["dqn"].config)
    return PRESETS[args.preset](**values, seed=args.seed)


def config_differences(a, b) -> set[str]:
    """The names of the fields where two config dataclasses differ."""
    import dataclasses

    return {f.name for f in dataclasses.fields(a) if getattr(a, f.name) != getattr(b, f.name)}


# `make test-fast` leaves these out (`-m "not slow and not browser and not notebooks"`).
_MARKS = {
    "test_install.py": "slow",
    "test_lab.py": "slow",
    "test_lab_browser.py": "browser",
    "test_browser_video.py": "browser",
    "test_rendered_notebooks.py": "browser",
    "test_notebooks.py": "notebooks",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        name = item.path.name
        if name.endswith(".ipynb"):  # nbval's cells
            item.add_marker(pytest.mark.notebooks)
        elif name in _MARKS:
            item.add_marker(getattr(pytest.mark, _MARKS[name]))
