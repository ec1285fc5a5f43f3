"""The course machinery — exercise checks and notebook tools — kept apart from the library it
teaches.

- :mod:`rlcourse.course.exercises`: the ``check_*`` functions the notebooks call after each
  exercise;
- :mod:`rlcourse.course.nbtools`: student versions of the notebooks, committed outputs.
"""
