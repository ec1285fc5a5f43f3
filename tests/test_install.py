"""Colab-style install: the built wheel, installed with plain `pip install` into a fresh
virtual environment, pulls only the runtime dependencies (no JupyterLab, no nbval) and runs the
notebooks against the installed package (not the sources)."""

import email
import os
import re
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from rlcourse import pretrained

ROOT = Path(__file__).resolve().parents[1]
# The course's tools: Colab has Jupyter, so a lesson's `%pip install` must not pull these.
COURSE_ONLY = {"jupyterlab", "nbval", "nbformat", "nbclient"}


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[(]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _spec(extra: str, name: str) -> str:
    """The requirement for `name` in pyproject's extra `extra` (one place for its version)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (spec,) = [r for r in project["optional-dependencies"][extra] if _name(r) == name]
    return spec


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def test_wheel_installs_and_runs_notebooks(tmp_path):
    # Build from a clean copy: a stale build/ folder in the checkout must not leak in.
    source = tmp_path / "source"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git",
            ".venv",
            "build",
            "dist",
            "runs",
            "*.egg-info",
            "notebooks",
            "__pycache__",
            ".pytest*",
            ".ruff_cache",
        ),
    )
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(source)])
    (wheel,) = wheels.glob("rlcourse-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {f"rlcourse/pretrained/{name}" for name in pretrained.available()}
    assert len(shipped) >= 6 and shipped <= set(names), (
        f"the pretrained checkpoints, logs and videos must be in the wheel: {shipped - set(names)}"
    )
    # The wheel's metadata: the course's tools only behind the `course` extra.
    (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
    message = email.message_from_bytes(zipfile.ZipFile(wheel).read(metadata))
    requires = message.get_all("Requires-Dist") or []
    runtime = {_name(r) for r in requires if "extra ==" not in r}
    course = {_name(r) for r in requires if re.search(r"extra\s*==\s*['\"]course['\"]", r)}
    assert runtime and not runtime & COURSE_ONLY, (
        f"course tools at run time: {runtime & COURSE_ONLY}"
    )
    assert course >= COURSE_ONLY, f"missing from the course extra: {COURSE_ONLY - course}"

    env_dir = tmp_path / "colab"
    venv.create(env_dir, with_pip=True)
    python = str(env_dir / "bin" / "python")
    # Colab already has torch; here the CPU build is installed first (no CUDA wheels).
    torch_spec = os.environ.get("TORCH_SPEC", "torch==2.13.0")
    _run([python, "-m", "pip", "install", "-q", torch_spec])
    # What the lesson's setup cell does: the package alone, no extras.
    _run([python, "-m", "pip", "install", "-q", str(wheel)])
    listed = _run([python, "-m", "pip", "list", "--format=freeze"]).stdout.splitlines()
    installed = {_name(line) for line in listed if line.strip()}
    assert not installed & COURSE_ONLY, f"a plain install pulled {installed & COURSE_ONLY}"
    # Colab's Jupyter kernel runs the cells; here nbval (with its kernel) plays that part.
    _run([python, "-m", "pip", "install", "-q", _spec("dev", "pytest"), _spec("course", "nbval")])

    notebooks = tmp_path / "notebooks"
    (notebooks / "student").mkdir(parents=True)
    shutil.copy(ROOT / "notebooks" / "student" / "02_wrappers.ipynb", notebooks / "student")
    shutil.copy(ROOT / "notebooks" / "04_dqn_cartpole.ipynb", notebooks)
    located = _run([python, "-c", "import rlcourse; print(rlcourse.__file__)"], cwd=tmp_path)
    assert str(env_dir) in located.stdout, "the notebooks must use the installed package"
    env = {**os.environ, "RLCOURSE_SMOKE": "1", "OMP_NUM_THREADS": "1"}
    env.pop("PYTHONPATH", None)
    result = subprocess.run(
        [
            python,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--nbval-lax",
            "--nbval-current-env",
            "student/02_wrappers.ipynb",
            "04_dqn_cartpole.ipynb",
        ],
        cwd=notebooks,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout
