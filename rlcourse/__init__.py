"""rlcourse: the solution code of a hands-on deep reinforcement learning course.

One module per concept: ``envs`` and ``wrappers`` (Atari preprocessing), ``buffers``,
``networks``, ``agents`` (DQN, A2C: configs, formulas, agents), ``rollouts``, ``training``
(the run harness and the two loops), ``evaluation``, ``policies``, ``checkpoints``,
``metrics`` and ``plots``, ``config``, ``cli``, ``video``, ``budget``; and, apart from the
library, ``course`` (the notebooks' exercise checks and tools).
"""

__version__ = "0.2.0"
