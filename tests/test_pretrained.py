"""The shipped Atari checkpoints load, are small, and play better than random.

The full 20-game figures are in the README (bench/evaluate_atari.py); these tests replay a
few fixed games greedily, so they are deterministic and take seconds.
"""

import numpy as np
import pytest

from rlcourse import pretrained
from rlcourse.agents.dqn import env_for_checkpoint, load_agent
from rlcourse.training import MetricLogger, evaluate

# name -> (games, score every one of them must beat: random play's mean on those games)
CHECKPOINTS = {
    "dqn_mspacman.pt": (3, 245),
}


@pytest.mark.parametrize("name", sorted(CHECKPOINTS))
def test_shipped_atari_agent_beats_random_play(name):
    path = pretrained.path(name)
    assert path.stat().st_size < 8_000_000
    agent, payload = load_agent(path, device="cpu")
    assert all(v.dtype.is_floating_point for v in agent.q.state_dict().values())
    env = env_for_checkpoint(payload)
    games, random_mean = CHECKPOINTS[name]
    scores = evaluate(agent.greedy, env, games, seed=50_000, max_steps=5_000)
    assert np.all(scores > random_mean), f"{name}: {scores} vs random {random_mean}"


@pytest.mark.parametrize("name", sorted(CHECKPOINTS))
def test_the_long_run_log_ships_with_its_checkpoint(name):
    log = MetricLogger.from_csv(pretrained.path(name.replace(".pt", "_log.csv")))
    assert log.history["step"][-1] >= 299_000 and len(log.evaluations) >= 10
    late = np.mean(log.history["episode_return"][-100:])
    early = np.mean(log.history["episode_return"][:100])
    assert late > early  # it learned: training returns rose over the run
