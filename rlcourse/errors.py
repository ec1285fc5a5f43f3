"""The package's own errors for mistakes a user can fix.

Every one of them is an :class:`RLCourseError`; the command line prints such an error as one
line and exits with code 2, while any other exception is a bug and keeps its traceback. Each
also derives from the built-in type a Python user would catch (``ValueError``,
``ImportError``), as Gymnasium's and NumPy's errors do.
"""

from __future__ import annotations


class RLCourseError(Exception):
    """A mistake in what was asked for: the message says what is wrong and what to do."""


class UsageError(RLCourseError, ValueError):
    """A command-line option or argument that cannot be used."""


class UnknownEnvError(RLCourseError, ValueError):
    """An env id that Gymnasium does not know (raised before ``gym.make`` would)."""


class MissingDependencyError(RLCourseError, ImportError):
    """An optional package an env needs is not installed; the message says what to run."""


class CheckpointError(RLCourseError, ValueError):
    """A checkpoint that cannot be used: missing, corrupt, or made for something else."""


class WrongAgentError(RLCourseError, TypeError):
    """A checkpoint whose agent cannot do what was asked (Q-values from an actor-critic)."""


class RunDirectoryError(RLCourseError, ValueError):
    """A run directory that cannot be created or written to."""


class WriteError(RLCourseError, OSError):
    """A file that could not be written (disk full, read-only, ...): the message names the
    file and the cause; what was there before is intact."""


class RunLockedError(RLCourseError, RuntimeError):
    """A run directory that another run is writing now."""


class TrainingDivergedError(RLCourseError, FloatingPointError):
    """A loss that stopped being a number: training stops with its last resume point intact."""


class ResourceError(RLCourseError, MemoryError):
    """A size the machine cannot hold, refused before anything is allocated."""


def check_finite_loss(loss: float) -> None:
    """Stop training when the loss is no longer a number (a learning rate too large, rewards
    too big to fit), before the optimizer's step spreads it into the weights.

    >>> check_finite_loss(0.5)
    >>> check_finite_loss(float("nan"))
    Traceback (most recent call last):
    ...
    rlcourse.errors.TrainingDivergedError: training diverged: the loss is nan ...
    """
    if loss != loss or loss in (float("inf"), float("-inf")):
        raise TrainingDivergedError(
            f"training diverged: the loss is {loss} (a learning rate too large? rewards not "
            "clipped?); training stopped before the weights were changed"
        )
