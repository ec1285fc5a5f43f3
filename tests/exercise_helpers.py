"""Shared by the exercise tests: no check may print answer code."""

from __future__ import annotations

import ast
import inspect
import textwrap
from typing import Any


def answer_lines(reference: Any) -> list[str]:
    """The code lines of the package's solution: its body, without docstrings, comments
    and lines too short to give anything away."""
    source = textwrap.dedent(inspect.getsource(reference))
    tree = ast.parse(source).body[0]
    lines: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(getattr(body[0], "value", None), ast.Constant)
            ):
                body = body[1:]
            for statement in body:
                if isinstance(statement, (ast.FunctionDef, ast.ClassDef)):
                    continue
                segment = ast.get_source_segment(source, statement) or ""
                lines += [line.split("#")[0].strip() for line in segment.splitlines()]
    return sorted({line for line in lines if len(line) >= 16})


def assert_no_answer_code(printed: str, *references: Any) -> None:
    """``printed`` (a check's output) holds no line of the references' code."""
    for reference in references:
        for line in answer_lines(reference):
            assert line not in printed, f"the check printed answer code: {line!r}"
