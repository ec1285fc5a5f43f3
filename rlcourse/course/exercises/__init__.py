"""Exercise checks for the notebooks: ``x = check_x(x)`` after each exercise cell.

Each check prints a verdict (passed / not attempted yet / wrong, with a hint) and returns
the student's code if it passed, else the reference, so the notebook always runs on.
"""

from rlcourse.exercises.core import Case, check_exercise, describe_difference
from rlcourse.exercises.wrappers import check_frame_stack, check_max_and_skip, check_process_frame

__all__ = [
    "Case",
    "check_exercise",
    "check_frame_stack",
    "check_max_and_skip",
    "check_process_frame",
    "describe_difference",
]
