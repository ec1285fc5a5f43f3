"""rlcourse: the solution code of a hands-on deep reinforcement learning course.

One module per concept: ``envs`` and ``wrappers`` (Atari preprocessing), ``video``,
``budget`` (smoke vs full step budgets), ``exercises`` (the notebooks' check cells).
"""

__version__ = "0.1.0"
