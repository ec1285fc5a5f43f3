"""Notebook hygiene: student versions up to date, solutions stubbed, outputs stripped.

The notebooks themselves run under nbval (`make test` passes `notebooks` to pytest).
"""

import re
import sys
from pathlib import Path

import nbformat
import pytest

from rlcourse.course.nbtools import (
    BEGIN,
    CHECK_MARK,
    END,
    strip_solutions,
    student_version,
    write_students,
)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_strip_solutions_keeps_indentation_and_code_around():
    source = (
        "class A:\n"
        "    def f(self):\n"
        "        x = 1\n"
        "        ### BEGIN SOLUTION\n"
        "        y = x + 1\n"
        "        ### END SOLUTION\n"
        "        return y\n"
        "### BEGIN SOLUTION\n"
        "z = 3\n"
        "### END SOLUTION"
    )
    assert strip_solutions(source) == (
        "class A:\n"
        "    def f(self):\n"
        "        x = 1\n"
        "        # YOUR CODE HERE\n"
        "        raise NotImplementedError()\n"
        "        return y\n"
        "# YOUR CODE HERE\n"
        "raise NotImplementedError()"
    )


def test_unbalanced_markers_are_an_error():
    with pytest.raises(ValueError, match="unbalanced solution markers"):
        strip_solutions("### BEGIN SOLUTION\nx = 1\n")


def test_student_notebooks_are_up_to_date(tmp_path):
    stale = write_students(ROOT / "notebooks", ROOT / "notebooks" / "student", check=True)
    assert not stale, f"stale student notebooks {stale}: run `make student` and commit them"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_solution_notebook_structure(path):
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    setup = [line for line in code[0].source.splitlines() if not line.lstrip().startswith("#")]
    assert "google.colab" in code[0].source and "pip install" in code[0].source
    assert not re.search(r"apt|xvfb|Display|kill|restart", "\n".join(setup))
    exercises = [i for i, cell in enumerate(code) if BEGIN in cell.source]
    assert len(exercises) >= 3, "each lesson has at least 3 exercises"
    for i in exercises:
        assert re.search(r"^(\w+) = check_\w+\(\1\)", code[i + 1].source, re.MULTILINE), (
            f"the cell after exercise {code[i].source[:60]!r} should be `x = check_x(x)`"
        )
    for cell in code:
        if CHECK_MARK not in cell.source:
            assert not cell.outputs, "commit notebooks without outputs (except checked cells)"
            assert cell.execution_count is None
        else:
            assert cell.outputs, "checked cells carry the output nbval compares"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_student_version_has_stubs_and_no_solutions(path):
    student = nbformat.read(ROOT / "notebooks" / "student" / path.name, as_version=4)
    sources = "\n".join(cell.source for cell in student.cells)
    assert BEGIN not in sources and END not in sources
    solution = nbformat.read(path, as_version=4)
    n_blocks = sum(cell.source.count(BEGIN) for cell in solution.cells)
    assert sources.count("raise NotImplementedError()") == n_blocks
    assert "Student version" in student.cells[0].source
    assert student == student_version(solution)


def test_lesson_04_sb3_section_skips_with_a_message_without_sb3(monkeypatch, capsys):
    notebook = nbformat.read(ROOT / "notebooks" / "04_pixel_dqn_mspacman.ipynb", as_version=4)
    (cell,) = [c for c in notebook.cells if "from stable_baselines3 import DQN" in c.source]
    monkeypatch.setitem(sys.modules, "stable_baselines3", None)  # import -> ImportError
    exec(compile(cell.source, "lesson 04, SB3 section", "exec"), {})
    assert "pip install stable-baselines3" in capsys.readouterr().out
