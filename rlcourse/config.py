"""Config dataclasses: one validator for numbers, their field docs, and the CLI options.

Every algorithm's hyperparameters live in a typed ``@dataclass`` with a docstring under each
field (CleanRL style). This module reads those docstrings (:func:`field_docs`), rebuilds a
config from a checkpoint's plain dict (:func:`config_from_dict`), checks numbers with one
function (:func:`check_number`), and turns a config class into command-line options
(:func:`add_config_options`, :func:`options_to_values`): the same flag names and meanings for
every algorithm.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import math
import numbers
import textwrap
import types
import typing
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


def check_number(
    name: str,
    value: object,
    *,
    integer: bool = False,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> Any:
    """Check that ``value`` is a number in a range; return it (as ``int`` when ``integer``).

    ``low``/``high`` are inclusive bounds unless ``low_open``/``high_open``. A ``bool`` is
    never a number here (``batch_size=True`` is a bug), nor is NaN.

    >>> check_number("batch_size", 32, integer=True, low=1)
    32
    >>> check_number("gamma", 1.5, low=0, high=1)
    Traceback (most recent call last):
    ...
    ValueError: gamma must be in [0, 1], got 1.5
    >>> check_number("lr", float("inf"), low=0)
    Traceback (most recent call last):
    ...
    ValueError: lr must be a finite number, got inf
    >>> check_number("lr", 0, low=0, low_open=True)
    Traceback (most recent call last):
    ...
    ValueError: lr must be > 0, got 0
    """
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        wanted = "an int" if integer else "a number"
        raise TypeError(f"{name} must be {wanted}, got {value!r} ({type(value).__name__})")
    if not integer and math.isnan(value):
        raise ValueError(f"{name} must be a number, got nan")
    if not integer and math.isinf(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    number: Any = value  # an int or a real number from here on
    too_low = low is not None and (number <= low if low_open else number < low)
    too_high = high is not None and (number >= high if high_open else number > high)
    if too_low or too_high:

        def show(bound: float | None) -> str:  # integers in full (2**32 - 1, not 4.29497e+09)
            assert bound is not None
            return f"{bound}" if integer and float(bound).is_integer() else f"{bound:g}"

        if low is not None and high is not None:
            interval = (
                f"{'(' if low_open else '['}{show(low)}, {show(high)}{')' if high_open else ']'}"
            )
            raise ValueError(f"{name} must be in {interval}, got {value!r}")
        if too_low:
            raise ValueError(
                f"{name} must be {'>' if low_open else '>='} {show(low)}, got {value!r}"
            )
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {show(high)}, got {value!r}")
    return int(number) if integer else number


FLOAT32_MAX = 3.4028234663852886e38
"""The largest float32: a learning rate beyond it cannot even be multiplied into the weights."""


def check_positive_int(name: str, value: object) -> int:
    """``check_number(name, value, integer=True, low=1)``: counts, sizes, step budgets.

    >>> check_positive_int("n_games", 0)
    Traceback (most recent call last):
    ...
    ValueError: n_games must be >= 1, got 0
    """
    return check_number(name, value, integer=True, low=1)


@dataclass
class RunNotes:
    """The field every algorithm's config inherits: notes stored with its checkpoints, which
    no option sets. ``rlcourse train`` records the command that made the run (and DQN's
    preset), so a finished run says how to make it again. Notes, not hyperparameters: a
    config's repr leaves them out.

    >>> RunNotes(extra={"command": "rlcourse train ppo"}).extra["command"]
    'rlcourse train ppo'
    """

    extra: dict[str, Any] = field(default_factory=dict, repr=False, metadata={"cli": False})
    """Free-form notes stored with checkpoints (e.g. the command that made them)."""


def field_docs(cls: type) -> dict[str, str]:
    """The docstrings written under a dataclass's fields, by field name, read from the
    source: the command line shows them in ``--help``."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        body = tree.body[0].body  # type: ignore[attr-defined]
        for node, following in zip(body, body[1:], strict=False):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            ):
                docs[node.target.id] = " ".join(following.value.value.split())
    return docs


def config_from_dict(cls: type[T], values: dict[str, Any]) -> T:
    """Rebuild a config dataclass from ``dataclasses.asdict`` output (a checkpoint's config);
    unknown keys are an error that lists the known ones; tuples come back as tuples."""
    known = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(values) - set(known)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields {sorted(unknown)}; known: {sorted(known)}")
    return cls(**values)


# --- command-line options -----------------------------------------------------------------


def _parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def _parse_optional_float(text: str) -> float | None:
    return None if text.lower() == "none" else float(text)


def _option_kind(annotation: Any) -> tuple[dict[str, Any], str]:
    """argparse arguments for a field's type (resolved annotation), and its kind."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is bool:
        return {"type": _parse_bool, "metavar": "BOOL"}, "bool"
    if annotation is int:
        return {"type": int, "metavar": "N"}, "int"
    if annotation is float:
        return {"type": float, "metavar": "X"}, "float"
    if origin in (typing.Union, types.UnionType) and set(args) == {float, type(None)}:
        return {"type": _parse_optional_float, "metavar": "X|none"}, "float|None"
    if origin is tuple and args and args[0] is int:
        return {"type": int, "nargs": "+", "metavar": "N"}, "tuple"
    if annotation is str:
        return {"type": str, "metavar": "TEXT"}, "str"
    return {}, "unsupported"


COMMON = ("seed",)
"""Fields every config has, set by a command-line option of their own (``--seed``)."""


def config_options(cls: type) -> list[tuple[str, dict[str, Any]]]:
    """``(field name, argparse kwargs)`` for every field a command line can set."""
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    options = []
    for item in dataclasses.fields(cls):
        kwargs, kind = _option_kind(hints[item.name])
        if kind == "unsupported" or item.metadata.get("cli") is False or item.name in COMMON:
            continue
        default = item.default if item.default is not dataclasses.MISSING else None
        shown = " ".join(map(str, default)) if isinstance(default, tuple) else default
        doc = (docs.get(item.name) or "").replace("%", "%%")
        # SUPPRESS: an option not given sets nothing, so a given "none" (None) still counts.
        kwargs.update(dest=item.name, default=argparse.SUPPRESS, help=f"{doc} (default: {shown})")
        options.append((item.name, kwargs))
    return options


def add_config_options(
    parser: argparse.ArgumentParser, cls: type, title: str | None = None
) -> None:
    """One ``--option`` per field of ``cls`` (``gamma`` -> ``--gamma``, ``batch_size`` ->
    ``--batch-size``), documented with the field's docstring; an option not given sets no
    attribute on the parsed namespace (see :func:`options_to_values`)."""
    group = parser.add_argument_group(title or f"{cls.__name__} hyperparameters")
    for name, kwargs in config_options(cls):
        group.add_argument("--" + name.replace("_", "-"), **kwargs)


def options_to_values(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The fields of ``cls`` that were given on the command line, as config values."""
    values = {}
    given = vars(args)
    for name, _ in config_options(cls):
        if name in given:  # also when given as None ("--max-grad-norm none")
            value = given[name]
            values[name] = tuple(value) if isinstance(value, list) else value
    return values
