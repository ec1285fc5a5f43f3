"""Step budgets: the full size a student trains at, and the smoke size CI runs at.

A notebook cell says ``steps = budget(full=500_000, smoke=2_000)``. Students get the full
budget; ``make test`` sets ``RLCOURSE_SMOKE=1`` so every notebook runs in seconds.
``make notebooks`` (the outputs committed in the notebooks) sets ``RLCOURSE_OUTPUTS=1``
as well: trainings stay at the smoke budget (their curves come from committed logs), while
a cell that measures a shipped agent asks for its full count with ``outputs=``:
``games = budget(full=20, smoke=2, outputs=20)``, so the committed numbers are the real ones.

A training cell that can run below its full budget says so (:func:`announce_run`): at a
smaller size its first printed line and its figures' titles read "CI-size run, 800 steps —
not a result; the full run is below" (docs/course_rules.md, "Committed outputs").

>>> budget(full=500_000, smoke=2_000, smoke_mode=True)
2000
>>> budget(full=500_000, smoke=2_000, smoke_mode=False)
500000
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from rlcourse.config import check_positive_int

SMOKE_ENV_VAR = "RLCOURSE_SMOKE"
OUTPUTS_ENV_VAR = "RLCOURSE_OUTPUTS"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def is_smoke() -> bool:
    """Whether smoke mode is on, read from the ``RLCOURSE_SMOKE`` environment variable.

    >>> os.environ[SMOKE_ENV_VAR] = "1"; is_smoke()
    True
    >>> os.environ[SMOKE_ENV_VAR] = "maybe"; is_smoke()
    Traceback (most recent call last):
    ...
    ValueError: RLCOURSE_SMOKE='maybe' is not understood: use 1/true/yes/on for smoke mode, ...
    >>> del os.environ[SMOKE_ENV_VAR]
    """
    raw = os.environ.get(SMOKE_ENV_VAR, "")
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(
        f"{SMOKE_ENV_VAR}={raw!r} is not understood: use 1/true/yes/on for smoke mode, "
        "0/false/no/off (or unset) for the full budget."
    )


def is_making_outputs() -> bool:
    """Whether the notebooks are being run to make their committed outputs
    (``RLCOURSE_OUTPUTS=1``, set by ``make notebooks``; it implies smoke mode)."""
    value = os.environ.get(OUTPUTS_ENV_VAR, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{OUTPUTS_ENV_VAR}={value!r} is not understood: use 1 or 0")


def _check_count(name: str, value: object) -> int:
    return check_positive_int(f"budget {name}=", value)


def budget(
    *, full: int, smoke: int, outputs: int | None = None, smoke_mode: bool | None = None
) -> int:
    """Return ``smoke`` in smoke mode, else ``full``; when making the committed outputs,
    ``outputs`` if given, else ``smoke``.

    Args:
        full: the budget a student trains with (steps, episodes, ...).
        smoke: the tiny budget CI uses; must not exceed ``full``.
        outputs: the budget of ``make notebooks`` (``RLCOURSE_OUTPUTS=1``), for cells whose
            output is quoted (e.g. the 20 games that score a shipped agent).
        smoke_mode: force a mode; by default read from ``RLCOURSE_SMOKE``.

    >>> budget(full=20, smoke=2, outputs=20, smoke_mode=True)
    2

    >>> budget(full=10, smoke=100, smoke_mode=True)
    Traceback (most recent call last):
    ...
    ValueError: budget smoke=100 is larger than full=10: the smoke budget is the small one.
    >>> budget(full=-5, smoke=1)
    Traceback (most recent call last):
    ...
    ValueError: budget full= must be >= 1, got -5
    """
    full = _check_count("full", full)
    smoke = _check_count("smoke", smoke)
    if smoke > full:
        raise ValueError(
            f"budget smoke={smoke} is larger than full={full}: the smoke budget is the small one."
        )
    if smoke_mode is None:
        if is_making_outputs():
            return smoke if outputs is None else _check_count("outputs", outputs)
        smoke_mode = is_smoke()
    return smoke if smoke_mode else full


def describe_mode() -> str:
    """One line for a notebook to print, saying which budget it runs with.

    >>> os.environ[SMOKE_ENV_VAR] = "0"; describe_mode()
    'Budget: full (set RLCOURSE_SMOKE=1 for a quick smoke run)'
    >>> del os.environ[SMOKE_ENV_VAR]
    """
    if is_making_outputs():
        return (
            "Budget: as committed (trainings at the smoke size; the curves, scores and videos "
            "shown come from the shipped agents and the committed logs)"
        )
    if is_smoke():
        return f"Budget: smoke ({SMOKE_ENV_VAR}=1: tiny step counts, results are not meaningful)"
    return f"Budget: full (set {SMOKE_ENV_VAR}=1 for a quick smoke run)"


CI_SIZE = "CI-size run"
"""How the label of a training run below its full budget starts (tests look for it)."""


@dataclass(frozen=True)
class RunSize:
    """A training run's size against its full budget, and what its outputs must say.

    >>> run = RunSize(steps=800, full=100_000)
    >>> run.label
    'CI-size run, 800 steps — not a result; the full run is below'
    >>> print(run.title("Double DQN on Mario Bros."))
    Double DQN on Mario Bros.
    CI-size run, 800 steps — not a result; the full run is below
    >>> RunSize(100_000, 100_000).label, RunSize(100_000, 100_000).title("DQN")
    ('', 'DQN')
    """

    steps: int
    """The steps (or episodes, updates) the run trains for."""
    full: int
    """Its full budget, what a student trains for."""
    full_run: str = "below"
    """Where the lesson shows the full run's result: "below", "above", "in section 7"."""
    unit: str = "steps"
    """What ``steps`` counts: "steps", "updates", "episodes"."""

    @property
    def ci_size(self) -> bool:
        """Whether the run is smaller than its full budget (smoke mode, ``make notebooks``)."""
        return self.steps < self.full

    @property
    def label(self) -> str:
        """The label of a CI-size run; '' at the full budget."""
        if not self.ci_size:
            return ""
        return (
            f"{CI_SIZE}, {self.steps:,} {self.unit} — not a result; the full run is {self.full_run}"
        )

    def title(self, text: str) -> str:
        """A figure's title: ``text``, and the label on a second line at CI size."""
        return f"{text}\n{self.label}" if self.ci_size else text

    def announce(self) -> RunSize:
        """Print the label (nothing at the full budget); returns the run size."""
        if self.ci_size:
            print(self.label)
        return self


def announce_run(steps: int, full: int, full_run: str = "below", unit: str = "steps") -> RunSize:
    """What a training cell calls first: prints "CI-size run, N steps — not a result; the
    full run is below" when ``steps`` is below the ``full`` budget (nothing at the full
    budget), and returns the :class:`RunSize`, whose ``title(...)`` labels the run's figures.

    >>> run = announce_run(budget(full=50_000, smoke=1_500, smoke_mode=True), full=50_000)
    CI-size run, 1,500 steps — not a result; the full run is below
    >>> run = announce_run(50_000, full=50_000)  # the full budget: no label
    """
    return RunSize(
        _check_count("steps", steps), _check_count("full", full), full_run, unit
    ).announce()
