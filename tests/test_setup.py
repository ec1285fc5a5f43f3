"""The set-up files agree with each other and with the README."""

import re
import sys
from pathlib import Path

import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _make_install_extras() -> list[str]:
    """The extras `make install` installs: `pip install -e ".[a,b,c]"`."""
    makefile = (ROOT / "Makefile").read_text()
    (extras,) = re.findall(r"""pip install -e ["']\.\[([^\]]*)\]["']""", makefile)
    return [extra.strip() for extra in extras.split(",")]


# What a lesson needs at run time (in Colab, `%pip install "rlcourse @ git+..."` brings these)...
RUNTIME = (
    "torch",
    "gymnasium",
    "ale-py",
    "numpy",
    "opencv-python",
    "matplotlib",
    "ipywidgets",  # lesson 02's `interact`; the widget form of the tqdm.auto progress bars
    "tqdm",
    "imageio",
    "imageio-ffmpeg",
)
# ...and the course's own tools, which Colab does not need: the `course` extra.
COURSE = ("jupyterlab", "nbval", "nbformat", "nbclient")


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    project = _project()
    extras = _make_install_extras()
    wanted = list(project["dependencies"])
    for extra in extras:
        wanted += project["optional-dependencies"][extra]
    # Environment markers (python_version < '3.11') are pip's business, not conda's.
    wanted = {r.split(";")[0].strip() for r in wanted if "python_version <" not in r}

    text = (ROOT / "environment.yml").read_text()
    env = yaml.safe_load(text)
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = {r for r in pip_section if not r.startswith("-e")}
    assert listed == wanted, (
        f"only in pyproject: {sorted(wanted - listed)}; only in environment.yml: "
        f"{sorted(listed - wanted)}"
    )
    # The same extras as `make install`, each under its own heading.
    assert re.findall(r"^\s*# extras: (\S+)", text, re.MULTILINE) == extras
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    assert python.removeprefix("python") == project["requires-python"]


def test_required_packages_are_declared():
    project = _project()
    names = {_name(r) for r in project["dependencies"]}
    assert set(RUNTIME) <= names, f"missing at run time: {set(RUNTIME) - names}"
    assert not names & set(COURSE), f"course-only tools at run time: {names & set(COURSE)}"
    course = {_name(r) for r in project["optional-dependencies"]["course"]}
    assert set(COURSE) <= course, f"missing from the course extra: {set(COURSE) - course}"
    assert {"course", "dev", "bench"} <= set(project["optional-dependencies"])
    assert project["requires-python"] == ">=3.10"


def test_makefile_installs_the_course_extra():
    assert set(_make_install_extras()) == {"course", "dev", "bench"}
    makefile = (ROOT / "Makefile").read_text()
    # The CPU build of torch goes in first, so the package's install pulls no CUDA wheels.
    assert makefile.index('pip install "$(TORCH_SPEC)"') < makefile.index("pip install -e")


def test_ci_runs_exactly_the_readme_commands():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    commands = [line.strip() for line in ci.splitlines() if line.strip().startswith("make ")]
    assert commands == ["make install", "make test"]
    for command in commands:
        assert command in readme


def test_makefile_has_the_documented_targets():
    makefile = (ROOT / "Makefile").read_text()
    for target in ("install", "test", "lab", "student", "lint", "bench"):
        assert re.search(rf"^{target}:", makefile, re.MULTILINE), target
    assert "torch==2.13.0" in makefile
    assert "RLCOURSE_SMOKE=1" in makefile
