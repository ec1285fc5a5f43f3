"""Training: the run harness and the two loops on it.

* :func:`train_dqn` (:mod:`.off_policy`): one env, a replay memory, DQN and its variants;
* :func:`train_a2c` (:mod:`.on_policy`): parallel games, rollouts, the recurrent A2C;
* :func:`train_reinforce` (:mod:`.monte_carlo`): whole episodes, then one policy-gradient
  step (REINFORCE);
* :class:`Run` (:mod:`.harness`): run directory, log, checkpoints, evaluation schedule,
  progress bar, live plot, exact resume, Ctrl-C.
"""

from rlcourse.training.harness import Run, TrainResult, progress_bar
from rlcourse.training.monte_carlo import train_reinforce
from rlcourse.training.off_policy import train_dqn
from rlcourse.training.on_policy import train_a2c

__all__ = ["Run", "TrainResult", "progress_bar", "train_a2c", "train_dqn", "train_reinforce"]
