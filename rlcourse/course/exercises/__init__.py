"""Exercise checks for the notebooks: ``x = check_x(x)`` after each exercise cell.

The function a student writes is the package's function, same name and signature, and its
check compares it with that function itself (:mod:`rlcourse.agents.dqn`,
:mod:`rlcourse.wrappers`, ...). Each check prints a verdict (passed / not attempted yet /
wrong, with a hint) and returns the student's code if it passed, else the package's, so the
notebook always runs on.
"""

from rlcourse.course.exercises.core import Case, check_exercise, describe_difference
from rlcourse.course.exercises.wrappers import (
    check_frame_stack,
    check_max_and_skip,
    check_process_frame84,
)

__all__ = [
    "Case",
    "check_exercise",
    "check_frame_stack",
    "check_max_and_skip",
    "check_process_frame84",
    "describe_difference",
]
