"""Notebook housekeeping: student versions and committed outputs.

    python -m rlcourse.course.nbtools student [--check]  # notebooks/*.ipynb -> notebooks/student/
    python -m rlcourse.course.nbtools refresh NOTEBOOK...  # run; keep NBVAL_CHECK_OUTPUT outputs

Solution notebooks mark answers nbgrader's way::

    ### BEGIN SOLUTION
    answer = 42
    ### END SOLUTION

and the student version replaces each block, at the block's indentation, with::

    # YOUR CODE HERE
    raise NotImplementedError()

Notebooks are committed without outputs, except cells marked ``# NBVAL_CHECK_OUTPUT``,
whose (deterministic) outputs nbval compares.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
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
    """The student notebook: solutions stubbed, outputs stripped, a banner on top."""
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


def write_students(source_dir: Path, target_dir: Path, check: bool = False) -> list[Path]:
    """Write (or with ``check``, compare) the student version of each notebook.

    Returns the student notebooks that were stale (``check``) or written.
    """
    import nbformat

    touched = []
    target_dir.mkdir(parents=True, exist_ok=True)
    for path in sorted(source_dir.glob("*.ipynb")):
        expected = _dumps(student_version(nbformat.read(path, as_version=4)))
        target = target_dir / path.name
        current = target.read_text() if target.exists() else None
        if current != expected:
            touched.append(target)
            if not check:
                target.write_text(expected)
    return touched


def refresh(path: Path, timeout: int = 1200) -> None:
    """Run a notebook in a fresh kernel and save it with only the checked outputs kept."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    resources = {"metadata": {"path": str(path.parent)}}
    # coalesce_streams: one stream output per cell, however the kernel's flushes fell.
    NotebookClient(
        notebook, timeout=timeout, resources=resources, coalesce_streams=True
    ).execute()
    path.write_text(_dumps(strip_outputs(notebook)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rlcourse.course.nbtools", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    student = commands.add_parser("student", help="write notebooks/student/ from notebooks/")
    student.add_argument("--source", type=Path, default=Path("notebooks"))
    student.add_argument("--target", type=Path, default=Path("notebooks/student"))
    student.add_argument("--check", action="store_true", help="only report stale files")
    run = commands.add_parser("refresh", help="execute notebooks, keep checked outputs only")
    run.add_argument("notebooks", type=Path, nargs="+")
    args = parser.parse_args(argv)

    if args.command == "student":
        touched = write_students(args.source, args.target, check=args.check)
        for path in touched:
            print(f"{'stale' if args.check else 'wrote'}: {path}")
        if args.check and touched:
            print("Run `make student` and commit notebooks/student/.", file=sys.stderr)
            return 1
        return 0
    for path in args.notebooks:
        refresh(path)
        print(f"refreshed: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
