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
BEATS_RANDOM = {
    "dqn_mspacman.pt": (3, 245),
}
# ddqn_mario.pt is not here: it plays as well as random play on its 2 actions (README).
LONG_RUNS = ["dqn_mspacman.pt", "ddqn_mario.pt"]


@pytest.mark.parametrize("name", sorted(BEATS_RANDOM))
def test_shipped_atari_agent_beats_random_play(name):
    path = pretrained.path(name)
    assert path.stat().st_size < 8_000_000
    agent, payload = load_agent(path, device="cpu")
    assert all(v.dtype.is_floating_point for v in agent.q.state_dict().values())
    env = env_for_checkpoint(payload)
    games, random_mean = BEATS_RANDOM[name]
    scores = evaluate(agent.greedy, env, games, seed=50_000, max_steps=5_000)
    assert np.all(scores > random_mean), f"{name}: {scores} vs random {random_mean}"


@pytest.mark.parametrize("name", LONG_RUNS)
def test_the_long_run_log_ships_with_its_checkpoint(name):
    assert pretrained.path(name).stat().st_size < 8_000_000
    log = MetricLogger.from_csv(pretrained.path(name.replace(".pt", "_log.csv")))
    assert log.history["step"][-1] >= 299_000 and len(log.evaluations) >= 10
    late = np.mean(log.history["episode_return"][-100:])
    early = np.mean(log.history["episode_return"][:100])
    assert late > early  # training returns rose over the run (barely, for Mario: 0.18 -> 0.22)


def test_shipped_mario_agent_is_double_dqn_on_the_right_action_set():
    agent, payload = load_agent(pretrained.path("ddqn_mario.pt"), device="cpu")
    assert payload["env_options"] == {"actions": "right"} and payload["config"]["double"]
    env = env_for_checkpoint(payload)
    assert env.get_action_meanings() == ["RIGHT", "RIGHTFIRE"] and agent.n_actions == 2
    scores = evaluate(agent.greedy, env, 2, seed=50_000, max_steps=2_000)
    assert scores.shape == (2,) and np.all(scores >= 0)
