"""Notebook housekeeping: student versions and committed outputs.

    python -m rlcourse.course.nbtools student [--check]  # notebooks/*.ipynb -> notebooks/student/
    python -m rlcourse.course.nbtools refresh NOTEBOOK...  # run and save with outputs
    python -m rlcourse.course.nbtools notebooks [--jobs 2]  # `make notebooks`: all of the above

Solution notebooks mark answers nbgrader's way::

    ### BEGIN SOLUTION
    answer = 42
    ### END SOLUTION

and the student version replaces each block, at the block's indentation, with::

    # YOUR CODE HERE
    raise NotImplementedError()

Notebooks are committed **with** their outputs (figures, scores, videos), made by
``make notebooks``: the student versions are regenerated from the solution notebooks, then
all of them (18) are run in fresh kernels and saved with their outputs. The lessons whose
full budget is cheap (:data:`FULL_BUDGET`: minutes on a CPU) run at the full budget, as a
student runs them, so their trainings are results; the others run with
``RLCOURSE_SMOKE=1 RLCOURSE_OUTPUTS=1`` (see :mod:`rlcourse.budget`): their trainings at the
CI size, labelled so in their outputs, their results from the shipped agents and logs
(docs/course_rules.md, "Committed outputs"). The outputs are made deterministic: no execution
timestamps, no widgets (tqdm's bars), no transient display ids; the repository's root and
the home directory are written as relative paths, and any other absolute path or memory
address in an output is an error naming the cell. A run that changes nothing changes no
byte. nbval compares only the outputs of cells marked ``# NBVAL_CHECK_OUTPUT``.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
CHECK_MARK = "# NBVAL_CHECK_OUTPUT"
STUDENT_BANNER = (
    "> **Student version.** Fill in each `# YOUR CODE HERE` and run the check cell below it. "
    "Until you do, the checks use the reference solution, so every cell still runs."
)
_SOLUTION_BLOCK = re.compile(
    rf"^(?P<indent>[ \t]*){re.escape(BEGIN)}[^\n]*\n.*?^[ \t]*{re.escape(END)}[^\n]*(\n|$)",
    re.MULTILINE | re.DOTALL,
)


def strip_solutions(source: str) -> str:
    """Replace every solution block of a cell's source with the student stub.

    >>> print(strip_solutions("def f(x):\\n    ### BEGIN SOLUTION\\n    return 2 * x\\n"
    ...                       "    ### END SOLUTION\\n"))
    def f(x):
        # YOUR CODE HERE
        raise NotImplementedError()
    <BLANKLINE>
    """
    if source.count(BEGIN) != source.count(END):
        raise ValueError(
            f"unbalanced solution markers ({source.count(BEGIN)} '{BEGIN}', "
            f"{source.count(END)} '{END}') in cell:\n{source}"
        )

    def stub(match: re.Match[str]) -> str:
        indent = match.group("indent")
        ending = "\n" if match.group(0).endswith("\n") else ""
        return f"{indent}# YOUR CODE HERE\n{indent}raise NotImplementedError(){ending}"

    return _SOLUTION_BLOCK.sub(stub, source)


def keeps_output(cell: Any) -> bool:
    return cell.get("cell_type") == "code" and CHECK_MARK in cell.get("source", "")


def strip_outputs(notebook: Any) -> Any:
    """Drop outputs and execution counts, except of ``# NBVAL_CHECK_OUTPUT`` cells."""
    notebook = copy.deepcopy(notebook)
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        if not keeps_output(cell):
            cell.outputs = []
            cell.execution_count = None  # nbval refuses outputs of "unrun" (count-less) cells
        cell.metadata.pop("execution", None)
    notebook.metadata.pop("widgets", None)
    return notebook


def student_version(notebook: Any) -> Any:
    """The student notebook: solutions stubbed, a banner on top, outputs stripped except the
    checked cells' (``make notebooks`` then runs it, so its outputs are the student's own)."""
    student = strip_outputs(notebook)
    for cell in student.cells:
        if cell.cell_type == "code" and BEGIN in cell.source:
            cell.source = strip_solutions(cell.source)
    import nbformat

    student.cells.insert(0, nbformat.v4.new_markdown_cell(STUDENT_BANNER))
    student.cells[0].pop("id", None)
    for index, cell in enumerate(student.cells):
        cell["id"] = f"cell-{index}"
    return student


def _dumps(notebook: Any) -> str:
    import nbformat

    return nbformat.writes(notebook) + "\n"


def structure(notebook: Any) -> Any:
    """What a notebook is without its outputs: cells (type, id, source, metadata) and the
    notebook's metadata, less what running it changes. Two notebooks with the same structure
    differ only in their outputs."""
    cells = [
        (
            cell.get("cell_type"),
            cell.get("id"),
            cell.get("source"),
            {
                k: v
                for k, v in cell.get("metadata", {}).items()
                if k not in ("execution", "measured_source")
            },
        )
        for cell in notebook.cells
    ]
    metadata = {k: v for k, v in notebook.metadata.items() if k not in ("widgets", "language_info")}
    return cells, metadata


def write_students(source_dir: Path, target_dir: Path, check: bool = False) -> list[Path]:
    """Write (or with ``check``, compare) the student version of each notebook.

    A student notebook whose structure (cells and sources, :func:`structure`) is already the
    expected one is left as it is, with the outputs ``make notebooks`` saved in it. One whose
    code cells are unchanged (only markdown changed) keeps their outputs: the same code made
    them. Returns the student notebooks that were stale (``check``) or written.
    """
    import nbformat

    touched = []
    target_dir.mkdir(parents=True, exist_ok=True)
    for path in sorted(source_dir.glob("*.ipynb")):
        expected = student_version(nbformat.read(path, as_version=4))
        target = target_dir / path.name
        current = nbformat.read(target, as_version=4) if target.exists() else None
        if current is None or structure(current) != structure(expected):
            touched.append(target)
            if not check:
                if current is not None:
                    _keep_code_outputs(current, expected)
                target.write_text(_dumps(expected))
    return touched


def _keep_code_outputs(current: Any, expected: Any) -> None:
    """Copy ``current``'s code outputs into ``expected`` if their code cells are the same."""
    old = [cell for cell in current.cells if cell.cell_type == "code"]
    new = [cell for cell in expected.cells if cell.cell_type == "code"]
    if [cell.source for cell in old] != [cell.source for cell in new]:
        return
    for before, after in zip(old, new, strict=True):
        after.outputs, after.execution_count = before.outputs, before.execution_count
        if "measured_source" in before.metadata:
            after.metadata["measured_source"] = before.metadata["measured_source"]


MAX_NOTEBOOK_BYTES = 3_000_000
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{6,}\b")
_ABSOLUTE = re.compile(r"(?<![\w.~/])/(?:tmp|root|home|work|Users|var|private|mnt|opt|srv)/")
_DATA_URI = re.compile(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=\s]*")
_TEXT_MIME = ("text/plain", "text/html", "text/markdown", "text/latex", "application/javascript")


class OutputError(ValueError):
    """An output that would make the committed notebook machine-dependent."""


def _relative_paths(text: str, notebook_dir: Path) -> str:
    """The notebook's folder, the repository root and the home folder as relative forms."""
    root = Path(__file__).resolve().parents[2]
    home = str(Path.home())
    replacements = [(str(notebook_dir.resolve()) + "/", ""), (str(notebook_dir.resolve()), ".")]
    replacements += [(str(root) + "/", ""), (str(root), ".")]
    if home not in ("/", ""):
        replacements.append((home, "~"))
    for old, new in replacements:
        text = text.replace(old, new)
    return text


def _check_text(text: str, where: str) -> None:
    visible = _DATA_URI.sub("data:...", text)
    for pattern, what in ((_ADDRESS, "a memory address"), (_ABSOLUTE, "an absolute path")):
        found = pattern.search(visible)
        if found:
            start = max(found.start() - 60, 0)
            raise OutputError(
                f"{where}: the output holds {what} ({visible[start : found.end() + 40]!r}): "
                "committed outputs must not depend on the machine; print a relative path, "
                "not an object's repr"
            )


def normalise_outputs(notebook: Any, notebook_dir: Path, name: str = "notebook") -> Any:
    """Make a run notebook's outputs deterministic and machine-independent (in place).

    Drops widget outputs (tqdm's bars), ``transient`` display ids, execution timings and the
    widget state; writes the notebook's folder, the repository root and ``~`` as relative
    paths; raises :class:`OutputError`, naming the cell, for any other absolute path or a
    memory address.
    """
    notebook.metadata.pop("widgets", None)
    code_index = 0
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        code_index += 1
        cell.metadata.pop("execution", None)
        where = f"{name}, cell {index} (code cell {code_index}, {cell.source[:50]!r})"
        kept = []
        for output in cell.get("outputs", []):
            output.pop("transient", None)
            data = output.get("data")
            if data is not None and WIDGET_VIEW in data:
                continue
            if output.get("output_type") == "stream":
                output.text = _relative_paths(output.text, notebook_dir)
                _check_text(output.text, where)
            elif output.get("output_type") == "error":
                output.traceback = [_relative_paths(t, notebook_dir) for t in output.traceback]
                output.evalue = _relative_paths(output.evalue, notebook_dir)
            elif data is not None:
                for mime in _TEXT_MIME:
                    if mime in data:
                        value = data[mime]
                        joined = "".join(value) if isinstance(value, list) else value
                        data[mime] = _relative_paths(joined, notebook_dir)
                        _check_text(data[mime], f"{where} [{mime}]")
            kept.append(output)
        cell.outputs = kept
    return notebook


def _digest(source: str) -> str:
    import hashlib

    return hashlib.sha256(source.encode()).hexdigest()[:16]


MEASUREMENT = "measurement"
"""Tag of a cell whose output is a measurement (a timing): see :func:`refresh`."""


FULL_BUDGET = ("01_", "04_", "08_")
"""Lessons (file name prefixes) that ``make notebooks`` runs at the full budget: all their
trainings take minutes on a CPU, so the committed outputs are the real runs (lesson 04 shows
its DQN solving CartPole)."""


def budget_environment(path: Path) -> dict[str, str]:
    """The budget variables a notebook is run with to make its committed outputs: the full
    budget for the :data:`FULL_BUDGET` lessons (both versions), else the smoke budget with the
    shipped results' counts (``RLCOURSE_SMOKE=1 RLCOURSE_OUTPUTS=1``)."""
    if Path(path).name.startswith(FULL_BUDGET):
        return {"RLCOURSE_SMOKE": "0", "RLCOURSE_OUTPUTS": "0"}
    return {"RLCOURSE_SMOKE": "1", "RLCOURSE_OUTPUTS": "1"}


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """``os.environ`` updated with ``values`` (the kernel inherits it), restored after."""
    import os

    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def refresh(path: Path, timeout: int = 1200) -> int:
    """Run a notebook in a fresh kernel, with its budget (:func:`budget_environment`), and save
    it with its outputs, deterministically (:func:`normalise_outputs`). Returns the size of the
    file written, in bytes."""
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    # Measurements (timings) differ on every run: a cell tagged "measurement" keeps the
    # output it was committed with, as long as its code is the same.
    # The output is kept only if it was made by this very code (a hash of the source is
    # stored with it): an edited cell is measured again.
    kept = {
        cell.source: cell.outputs
        for cell in notebook.cells
        if cell.cell_type == "code"
        and MEASUREMENT in cell.metadata.get("tags", [])
        and cell.outputs
        and cell.metadata.get("measured_source") == _digest(cell.source)
    }
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    resources = {"metadata": {"path": str(path.parent)}}
    # coalesce_streams: one stream output per cell, however the kernel's flushes fell;
    # record_timing=False: no execution timestamps in the cells' metadata.
    with _environment(budget_environment(path)):
        NotebookClient(
            notebook,
            timeout=timeout,
            resources=resources,
            coalesce_streams=True,
            record_timing=False,
        ).execute()
    for cell in notebook.cells:
        if cell.cell_type == "code" and MEASUREMENT in cell.metadata.get("tags", []):
            cell.outputs = kept.get(cell.source, cell.outputs)
            cell.metadata["measured_source"] = _digest(cell.source)
    normalise_outputs(notebook, path.parent, name=str(path))
    text = _dumps(notebook)
    path.write_text(text)
    return len(text.encode())


def _refresh_one(path: Path) -> tuple[Path, float, int]:
    import time

    start = time.perf_counter()
    size = refresh(path)
    return path, time.perf_counter() - start, size


def make_notebooks(source_dir: Path = Path("notebooks"), jobs: int = 2) -> int:
    """``make notebooks``: regenerate the student versions, then run every solution and
    student notebook (``jobs`` at a time), each with its budget (:func:`budget_environment`),
    and save them with their outputs. Returns 1 if a notebook failed or is too large."""
    import os
    from concurrent.futures import ProcessPoolExecutor, as_completed

    os.environ["PYTHONHASHSEED"] = "0"
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    target_dir = source_dir / "student"
    for path in write_students(source_dir, target_dir):
        print(f"wrote: {path}")
    solutions = sorted(source_dir.glob("*.ipynb"))
    # Pair each lesson with its student version, the long (late) lessons first.
    paths = [p for s in reversed(solutions) for p in (s, target_dir / s.name)]
    failed = 0
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(_refresh_one, path): path for path in paths}
        for future in as_completed(futures):
            try:
                path, seconds, size = future.result()
            except Exception as error:  # report every notebook, fail at the end
                failed = 1
                print(
                    f"FAILED: {futures[future]}: {type(error).__name__}: {error}", file=sys.stderr
                )
                continue
            flag = ""
            if size > MAX_NOTEBOOK_BYTES:
                failed = 1
                flag = f"  TOO LARGE (> {MAX_NOTEBOOK_BYTES / 1e6:.0f} MB: shorter videos)"
            print(f"refreshed: {path} ({seconds:.0f} s, {size / 1e6:.2f} MB){flag}", flush=True)
    return failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rlcourse.course.nbtools", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    student = commands.add_parser("student", help="write notebooks/student/ from notebooks/")
    student.add_argument("--source", type=Path, default=Path("notebooks"))
    student.add_argument("--target", type=Path, default=Path("notebooks/student"))
    student.add_argument("--check", action="store_true", help="only report stale files")
    run = commands.add_parser(
        "refresh", help="execute notebooks (each with its budget), save them with outputs"
    )
    run.add_argument("notebooks", type=Path, nargs="+")
    every = commands.add_parser("notebooks", help="student versions, then run all (make notebooks)")
    every.add_argument("--source", type=Path, default=Path("notebooks"))
    every.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)

    if args.command == "student":
        touched = write_students(args.source, args.target, check=args.check)
        for path in touched:
            print(f"{'stale' if args.check else 'wrote'}: {path}")
        if args.check and touched:
            print("Run `make student` and commit notebooks/student/.", file=sys.stderr)
            return 1
        return 0
    if args.command == "notebooks":
        return make_notebooks(args.source, jobs=args.jobs)
    for path in args.notebooks:
        size = refresh(path)
        print(f"refreshed: {path} ({size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
