"""Training: the run harness and the loops on it.

* :func:`train_dqn` (:mod:`.off_policy`): one env, a replay memory, DQN and its variants;
* :func:`train_on_policy` (:mod:`.on_policy`, also named :func:`train_a2c`): parallel games,
  rollouts, the recurrent A2C and PPO;
* :func:`train_reinforce` (:mod:`.monte_carlo`): whole episodes, then one policy-gradient
  step (REINFORCE);
* :class:`Run` (:mod:`.harness`): run directory, log, checkpoints, evaluation schedule,
  progress bar, live plot, exact resume, Ctrl-C.
"""

from rlcourse.training.harness import Run, TrainResult, progress_bar
from rlcourse.training.monte_carlo import train_reinforce
from rlcourse.training.off_policy import train_dqn
from rlcourse.training.on_policy import train_a2c, train_on_policy

__all__ = [
    "Run",
    "TrainResult",
    "progress_bar",
    "train_a2c",
    "train_dqn",
    "train_on_policy",
    "train_reinforce",
]
