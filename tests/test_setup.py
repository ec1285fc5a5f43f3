"""The set-up files agree with each other and with the README."""

import json
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


def _recipe(target: str) -> str:
    """A Makefile target's line and its recipe (up to the next blank line)."""
    makefile = (ROOT / "Makefile").read_text()
    (recipe,) = re.findall(rf"^{re.escape(target)}:.*?(?=\n\n|\Z)", makefile, re.M | re.S)
    return recipe


def _extras(target: str) -> list[str]:
    """The extras a target installs: `pip install -e ".[a,b,c]"`."""
    (extras,) = re.findall(r"""pip install -e ["']\.\[([^\]]*)\]["']""", _recipe(target))
    return [extra.strip() for extra in extras.split(",")]


def _make_install_extras() -> list[str]:
    """The extras `make install` installs."""
    return _extras("install")


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


def test_install_nes_gives_a_python_313_venv_with_the_nes_game():
    # Lesson 06's NES game: gym-super-mario-bros >= 9 exists for Python >= 3.13 only, so it is
    # an extra of its own, installed by `make install-nes` into a second venv (not CI's).
    project = _project()
    (nes,) = project["optional-dependencies"]["nes"]
    assert _name(nes) == "gym-super-mario-bros" and ">=9" in nes
    assert nes.split(";")[1].strip() == "python_version >= '3.13'"
    # The same package as lesson 06's Colab setup cell installs.
    lesson = json.loads((ROOT / "notebooks" / "06_ddqn_mario.ipynb").read_text())
    sources = ["".join(cell["source"]) for cell in lesson["cells"]]
    setup = next(source for source in sources if "google.colab" in source)
    assert 'pip install -q "gym-super-mario-bros>=9"' in setup
    assert _extras("install-nes") == ["course", "dev", "nes"]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^NES_PYTHON \?= python3\.13$", makefile, re.M)
    assert re.search(r"^NES_VENV \?= \.venv-nes$", makefile, re.M)
    assert "TORCH_SPEC" not in _recipe("install-nes")  # the pinned CPU build is 3.11-only here
    test_nes = _recipe("test-nes")
    assert "$(NES_VENV)/bin/python -m pytest" in test_nes and "06_ddqn_mario.ipynb" in test_nes
    assert ".venv-nes/" in (ROOT / ".gitignore").read_text().split()
    readme = (ROOT / "README.md").read_text()
    assert "make install-nes" in readme and "make test-nes" in readme
