"""The value bias of a trained DQN agent: its Q-values against the returns that followed."""

from pathlib import Path

import numpy as np
import pytest
import torch

import rlcourse
from rlcourse.cli import main
from rlcourse.evaluation import evaluate_checkpoint
from rlcourse.policies import QPolicy
from rlcourse.registry import load_policy
from rlcourse.toy_envs import FrameCounterEnv
from rlcourse.value_bias import (
    ValueBiasRecorder,
    discounted_returns,
    measure_value_bias,
    value_bias,
)

PRETRAINED = Path(rlcourse.__file__).parent / "pretrained"


# --- on a real game: predictions against the returns that followed --------------------------


class ConstantQ(torch.nn.Module):
    """Q-values that never change: ``values`` for every observation."""

    def __init__(self, values):
        super().__init__()
        self.values = torch.nn.Parameter(torch.tensor(values), requires_grad=False)
        self.n_actions = len(values)

    def forward(self, observations):
        return self.values.expand(len(observations), -1)


def test_discounted_returns_restart_after_each_end():
    rewards = np.array([1.0, 2.0, 3.0, 4.0])
    assert discounted_returns(rewards, np.zeros(4, bool), 0.5).tolist() == [3.25, 4.5, 5.0, 4.0]
    ends = np.array([False, True, False, True])
    assert discounted_returns(rewards, ends, 0.5).tolist() == [2.0, 2.0, 5.0, 4.0]
    assert discounted_returns(rewards, ends, 0.0).tolist() == rewards.tolist()


@pytest.mark.parametrize(
    ("clip", "lives_end", "obtained"),
    [
        (False, False, [3.25, 4.5, 5.0, 4.0]),  # rewards 1, 2, 3, 4 in one return
        (False, True, [2.0, 2.0, 5.0, 4.0]),  # a life is lost after steps 2 and 4
        (True, True, [1.5, 1.0, 1.5, 1.0]),  # every reward clipped to 1
    ],
)
def test_value_bias_counts_returns_the_way_training_did(clip, lives_end, obtained):
    def make_env():
        return FrameCounterEnv(shape=(2, 2), episode_length=4, life_length=2, lives=5)

    policy = QPolicy(ConstantQ([10.0, 0.0]))
    bias = value_bias(
        policy, make_env, 2, seed=0, gamma=0.5, clip_rewards=clip, lives_end_returns=lives_end
    )
    assert bias.predicted.tolist() == [10.0] * 8  # Q of the action taken (greedy: action 0)
    assert bias.obtained.tolist() == obtained * 2
    assert bias.overestimate == pytest.approx(10.0 - np.mean(obtained))
    assert bias.games == 2 and bias.gamma == 0.5
    assert "overestimate +" in str(bias) and "8 steps of 2 games" in str(bias)


def test_value_bias_reads_the_q_of_the_action_taken_epsilon_greedy():
    policy = QPolicy(ConstantQ([1.0, 3.0]), epsilon=0.5, seed=0)
    bias = value_bias(
        policy, lambda: FrameCounterEnv(shape=(2, 2), episode_length=50), 2, seed=0, gamma=0.9
    )
    assert set(bias.predicted.tolist()) == {1.0, 3.0}  # random actions are counted too
    assert len(bias.predicted) == 100


def test_value_bias_leaves_out_returns_a_step_limit_cut_short():
    policy = QPolicy(ConstantQ([0.0]))

    def lives_env():
        return FrameCounterEnv(shape=(2, 2), episode_length=10, life_length=3, lives=5)

    bias = value_bias(policy, lives_env, 1, seed=0, gamma=1.0, lives_end_returns=True, max_steps=7)
    assert bias.obtained.tolist() == [6.0, 5.0, 3.0, 15.0, 11.0, 6.0]  # 2 lives; the 3rd is cut

    def truncating():
        return FrameCounterEnv(shape=(2, 2), episode_length=10, truncate_at=4)

    with pytest.raises(ValueError, match="raise max_steps"):
        value_bias(policy, truncating, 1, seed=0, gamma=1.0)


def test_a_shipped_atari_agent_is_measured_with_its_training_rules(capsys):
    path = PRETRAINED / "dqn_mspacman_100k.pt"
    bias = measure_value_bias(path, episodes=1, max_steps=1500)
    gamma = bias.gamma
    assert 0 < len(bias.predicted) <= 1500
    # clipped rewards (1 a step at most), each life its own return:
    assert bias.obtained.min() >= 0 and bias.obtained.max() <= 1 / (1 - gamma)
    assert np.isfinite(bias.overestimate)
    main(["evaluate", str(path), "--episodes", "1", "--max-steps", "1500", "--value-bias"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[-2] == f"value bias: {bias}" and lines[-1].startswith("score: ")


def test_value_bias_is_read_in_the_evaluated_games_without_changing_them():
    path = PRETRAINED / "dqn_mspacman_100k.pt"
    plain = evaluate_checkpoint(path, episodes=2, max_steps=300)
    policy = load_policy(path)
    recorder = ValueBiasRecorder.for_checkpoint(policy, 2)
    measured = evaluate_checkpoint(policy, episodes=2, max_steps=300, on_step=recorder)
    np.testing.assert_array_equal(measured.scores, plain.scores)  # the same draws, games
    recorded = recorder.result()
    assert len(recorded.predicted) <= 2 * 300
    bias = measure_value_bias(path, episodes=2, max_steps=300)
    np.testing.assert_array_equal(bias.predicted, recorded.predicted)


def test_the_q_values_are_read_in_batches_whatever_their_size():
    path = PRETRAINED / "dqn_mspacman_100k.pt"
    read = []
    for batch_size in (1, 7, 256):
        policy = load_policy(path)
        recorder = ValueBiasRecorder(
            policy, 2, gamma=0.99, lives_end_returns=True, batch_size=batch_size
        )
        evaluate_checkpoint(policy, episodes=2, max_steps=400, on_step=recorder)
        read.append(recorder.result().predicted)
    np.testing.assert_allclose(read[0], read[1], rtol=1e-5)
    np.testing.assert_allclose(read[0], read[2], rtol=1e-5)


def test_value_bias_needs_a_dqn_agent(capsys):
    assert main(["evaluate", str(PRETRAINED / "reinforce_cartpole.pt"), "--value-bias"]) == 2
    assert "needs a DQN checkpoint" in capsys.readouterr().err
    with pytest.raises(TypeError, match="needs a DQN checkpoint, and this one holds a REINFORCE"):
        measure_value_bias(PRETRAINED / "reinforce_cartpole.pt", episodes=1)
