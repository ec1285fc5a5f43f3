"""Notebook hygiene: student versions up to date, solutions stubbed, committed outputs clean
(no absolute paths, timestamps, addresses or widgets; < 3 MB; figures and videos present).

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
    MAX_NOTEBOOK_BYTES,
    WIDGET_VIEW,
    normalise_outputs,
    strip_solutions,
    structure,
    student_version,
    write_students,
)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
ALL = NOTEBOOKS + sorted((ROOT / "notebooks" / "student").glob("*.ipynb"))
TRAINING = ("01_", "04_", "05_", "06_", "07_", "08_", "09_")


def _id(path):
    return f"{path.parent.name}/{path.name}" if path.parent.name == "student" else path.name


def _outputs(notebook):
    return [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])]


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


def test_make_student_keeps_outputs_when_only_markdown_changed(tmp_path):
    solutions, students = tmp_path / "solutions", tmp_path / "student"
    solutions.mkdir()
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# Lesson"),
            nbformat.v4.new_code_cell(f"x = 1\n{BEGIN}\ny = 2\n{END}"),
            nbformat.v4.new_code_cell("print(x)"),
        ]
    )
    nbformat.write(notebook, solutions / "lesson.ipynb")
    write_students(solutions, students)
    student = nbformat.read(students / "lesson.ipynb", as_version=4)
    student.cells[-1].outputs = [nbformat.v4.new_output("stream", text="1\n")]
    student.cells[-1].execution_count = 2
    nbformat.write(student, students / "lesson.ipynb")

    notebook.cells[0].source = "# Lesson, retitled"  # markdown only: the outputs stay
    nbformat.write(notebook, solutions / "lesson.ipynb")
    assert write_students(solutions, students) == [students / "lesson.ipynb"]
    kept = nbformat.read(students / "lesson.ipynb", as_version=4)
    assert kept.cells[1].source == "# Lesson, retitled"
    assert kept.cells[-1].outputs[0].text == "1\n" and kept.cells[-1].execution_count == 2

    notebook.cells[2].source = "print(x + 1)"  # code changed: its outputs are gone
    nbformat.write(notebook, solutions / "lesson.ipynb")
    write_students(solutions, students)
    assert nbformat.read(students / "lesson.ipynb", as_version=4).cells[-1].outputs == []


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
        if CHECK_MARK in cell.source:
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
    # Outputs are the student version's own (make notebooks runs it): compare the rest.
    assert structure(student) == structure(student_version(solution))


@pytest.mark.parametrize("path", ALL, ids=_id)
def test_committed_outputs_are_clean_and_small(path):
    assert path.stat().st_size < MAX_NOTEBOOK_BYTES, f"{path.name} is over 3 MB: shorter videos"
    notebook = nbformat.read(path, as_version=4)
    assert "widgets" not in notebook.metadata, "widget state in the notebook's metadata"
    counts = [c.execution_count for c in notebook.cells if c.cell_type == "code"]
    ran = [n for n in counts if n is not None]
    for cell in notebook.cells:
        assert "execution" not in cell.get("metadata", {}), "execution timestamps in metadata"
        for output in cell.get("outputs", []):
            assert WIDGET_VIEW not in output.get("data", {}), "a widget output (tqdm bar?)"
            assert "transient" not in output
    if len(ran) > len([c for c in notebook.cells if CHECK_MARK in c.source]):
        # Run by make notebooks: every code cell once, in order.
        assert counts == list(range(1, len(counts) + 1)), "execution counts not sequential"
    # Paths, addresses: normalising a committed notebook raises on any, and changes nothing.
    before = nbformat.writes(notebook)
    normalise_outputs(notebook, path.parent, name=_id(path))
    assert nbformat.writes(notebook) == before, "outputs hold the repository's or home's path"


def test_normalise_outputs_rejects_addresses_and_paths(tmp_path):
    from rlcourse.course.nbtools import OutputError

    for text in ("<Foo object at 0x7f3a2b4c5d60>", "saved to /tmp/tmpab12/x.pt"):
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x")])
        notebook.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
        with pytest.raises(OutputError, match="cell 0"):
            normalise_outputs(notebook, tmp_path)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x")])
    notebook.cells[0].outputs = [
        nbformat.v4.new_output("stream", name="stdout", text=f"wrote {ROOT}/notebooks/a.mp4"),
        nbformat.v4.new_output("display_data", data={WIDGET_VIEW: {}, "text/plain": "0%|"}),
    ]
    notebook.metadata["widgets"] = {"state": {}}
    normalise_outputs(notebook, ROOT / "notebooks")
    assert notebook.cells[0].outputs[0].text == "wrote a.mp4"
    assert len(notebook.cells[0].outputs) == 1 and "widgets" not in notebook.metadata


def _committed(path):
    notebook = nbformat.read(path, as_version=4)
    uncounted = [c for c in notebook.cells if c.cell_type == "code" and CHECK_MARK not in c.source]
    if not any(c.get("outputs") for c in uncounted):
        pytest.skip(f"{_id(path)} has no committed outputs yet: run `make notebooks`")
    return notebook


@pytest.mark.parametrize("path", [p for p in ALL if p.name.startswith(TRAINING)], ids=_id)
def test_committed_outputs_present_training_lesson_shows_figure_and_video(path):
    outputs = _outputs(_committed(path))
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    html = "".join("".join(o.get("data", {}).get("text/html", "")) for o in outputs)
    assert images, f"{_id(path)} shows no figure"
    assert "<video" in html and "data:video/mp4;base64," in html, f"{_id(path)} shows no video"


def test_lesson_05_sb3_section_skips_with_a_message_without_sb3(monkeypatch, capsys):
    notebook = nbformat.read(ROOT / "notebooks" / "05_pixel_dqn_mspacman.ipynb", as_version=4)
    (cell,) = [c for c in notebook.cells if "from stable_baselines3 import DQN" in c.source]
    monkeypatch.setitem(sys.modules, "stable_baselines3", None)  # import -> ImportError
    exec(compile(cell.source, "lesson 05, SB3 section", "exec"), {})
    assert "pip install stable-baselines3" in capsys.readouterr().out


def test_refresh_keeps_the_committed_output_of_a_measurement(tmp_path):
    """A timing differs on every run: a cell tagged "measurement" keeps its committed output
    while its code is unchanged, so a refresh that changes nothing makes no diff."""
    import nbformat

    from rlcourse.course.nbtools import MEASUREMENT, refresh

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("import time\nprint('answer', 6 * 7)"),
        nbformat.v4.new_code_cell(
            "print(time.perf_counter_ns())", metadata={"tags": [MEASUREMENT]}
        ),
    ]
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = tmp_path / "lesson.ipynb"
    nbformat.write(notebook, path)
    refresh(path)
    first = path.read_text()
    refresh(path)
    assert path.read_text() == first
    assert "answer 42" in first
    changed = nbformat.read(path, as_version=4)
    changed.cells[1].source = "print(time.perf_counter_ns(), 'new code')"
    nbformat.write(changed, path)
    refresh(path)
    assert "new code" in nbformat.read(path, as_version=4).cells[1].outputs[0]["text"]


# --- committed outputs under one rule (docs/course_rules.md, "Committed outputs") -----------

# A cell that trains, or shows what a training of the notebook made (its run directory, its
# metrics, its agent); a function's definition is not one.
_TRAINS = re.compile(
    r"(?<!def )\b(train_dqn|train_a2c|train_reinforce|dqn_loop|run_study|reinforce_by_hand)\("
    r"|runs/0\d_|result\.metrics|agent\.policy\(\)|\bmine\b"
)


def _mode_line(notebook):
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.text.startswith("Budget: "):
                return output.text.splitlines()[0]
    return None


def _exercise_cells(code):
    """Indices of the exercise cells and of their check cells (the next code cell)."""
    exercises = [i for i, cell in enumerate(code) if BEGIN in cell.source]
    return set(exercises) | {i + 1 for i in exercises}


@pytest.mark.parametrize("path", ALL, ids=_id)
def test_a_training_that_ran_at_ci_size_says_so_in_its_output(path):
    """A figure or score shown as a result comes from a full-budget run: a notebook made in
    smoke mode labels every training cell's output "CI-size run, N steps — not a result", and
    the lessons whose full budget is cheap are committed at the full budget."""
    from rlcourse.budget import CI_SIZE
    from rlcourse.course.nbtools import FULL_BUDGET

    notebook = _committed(path)
    mode = _mode_line(notebook)
    assert mode is not None, f"{_id(path)} does not print its budget (describe_mode())"
    if path.name.startswith(FULL_BUDGET):
        assert mode.startswith("Budget: full"), f"{_id(path)} is committed at the full budget"
        return
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    skipped = _exercise_cells(code)
    unlabelled = []
    for index, cell in enumerate(code):
        if index in skipped or not _TRAINS.search(cell.source):
            continue
        first = cell.outputs[0] if cell.outputs else {}
        text = first.get("text", "") if first.get("output_type") == "stream" else ""
        if not text.startswith(CI_SIZE):
            unlabelled.append(cell.source.splitlines()[0])
    assert not unlabelled, (
        f"{_id(path)}: training cells made in smoke mode without the label "
        f"('{CI_SIZE}, N steps — not a result ...', budget.announce_run): {unlabelled}"
    )


def _output_kinds(cell):
    return [(o.output_type, tuple(sorted(o.get("data", {})))) for o in cell.outputs]


def _images(cell):
    return [o.data["image/png"] for o in cell.outputs if "image/png" in o.get("data", {})]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_both_versions_show_the_same_results(path):
    """The solution and the student version of a lesson show the same outputs (kinds and
    images) in every cell but the exercises and their checks; a measurement (a timing) shows
    the same kinds of output, not the same picture."""
    from rlcourse.course.nbtools import MEASUREMENT

    solution = _committed(path)
    student = _committed(ROOT / "notebooks" / "student" / path.name)
    code = [cell for cell in solution.cells if cell.cell_type == "code"]
    theirs = [cell for cell in student.cells if cell.cell_type == "code"]
    assert len(code) == len(theirs)
    skipped = _exercise_cells(code)
    different = []
    for index, (mine, other) in enumerate(zip(code, theirs, strict=True)):
        if index in skipped:
            continue
        if _output_kinds(mine) != _output_kinds(other):
            different.append(f"code cell {index + 1} (kinds): {mine.source.splitlines()[0]!r}")
        elif MEASUREMENT not in mine.metadata.get("tags", []) and _images(mine) != _images(other):
            different.append(f"code cell {index + 1} (images): {mine.source.splitlines()[0]!r}")
    assert not different, f"{path.name}: the student version shows other results: {different}"
