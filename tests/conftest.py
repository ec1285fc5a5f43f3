import pytest
import torch

from rlcourse.course.exercises.core import ATTEMPTS

# Tiny networks gain nothing from intra-op threads, and with pytest-xdist workers on 2 cores
# the threads only fight each other (OpenMP spin-waits): one thread per test process.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _fresh_attempts():
    """Each test starts at an exercise's first try (the hints grow with the wrong tries)."""
    ATTEMPTS.clear()
    yield
    ATTEMPTS.clear()


def load_bench_script(name: str):
    """A script of bench/ (not a package) imported as a module, for its tests. bench/ goes on
    sys.path, as when the script runs, so it can import its sibling scripts."""
    import importlib.util
    import sys
    from pathlib import Path

    bench = Path(__file__).resolve().parents[1] / "bench"
    if str(bench) not in sys.path:
        sys.path.insert(0, str(bench))
    path = bench / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
