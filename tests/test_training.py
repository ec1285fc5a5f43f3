"""The training loops (rlcourse/training: train_dqn, train_a2c) through their Python API.

The run harness under both loops is tested in test_harness.py; killing a run and resuming
it from the command line in test_resume.py."""

import signal

import numpy as np
import pytest
import torch

from rlcourse.agents.a2c import A2C, A2CConfig
from rlcourse.agents.dqn import DQN, cartpole_config
from rlcourse.checkpoints import (
    CheckpointError,
    load_checkpoint,
    save_checkpoint,
)
from rlcourse.envs import make_env_for
from rlcourse.metrics import LOG_COLUMNS, read_csv
from rlcourse.training import harness, train_a2c, train_dqn


@pytest.fixture
def no_pictures(monkeypatch):
    """Skip drawing metrics.png (a second a picture) where a test does not look at it."""
    monkeypatch.setattr(harness, "plot_metrics", lambda *args, **kwargs: None)


# --- train_dqn ------------------------------------------------------------------------------


def _dqn(seed=0, **overrides):
    values = dict(
        learning_starts=100,
        train_frequency=16,
        gradient_steps=2,
        batch_size=32,
        buffer_size=2000,
        hidden_sizes=(16, 16),
        device="cpu",
        seed=seed,
    )
    values.update(overrides)
    env = make_env_for("CartPole-v1", training=True)
    return DQN(env.observation_space, env.action_space, cartpole_config(**values)), env


def _eval_env():
    return make_env_for("CartPole-v1", training=False)


def _rows(run_dir):
    """log.csv without the training time (the one column two equal runs may differ in)."""
    lines = (run_dir / "log.csv").read_text().splitlines()
    keep = [i for i, name in enumerate(lines[0].split(",")) if name != "wall_seconds"]
    return [[line.split(",")[i] for i in keep] for line in lines]


def test_train_dqn_logs_every_episode_and_evaluates_on_schedule(tmp_path, no_pictures):
    agent, env = _dqn()
    result = train_dqn(
        agent,
        env,
        600,
        env_id="CartPole-v1",
        eval_env=_eval_env(),
        eval_every=300,
        eval_episodes=2,
        out_dir=tmp_path / "run",
        progress=False,
    )
    assert result.agent is agent and agent.steps == 600
    assert [step for step, _, _ in result.evaluations] == [300, 600]
    assert (result.solved_at_step, result.interrupted) == (None, False)
    assert result.wall_seconds > 0
    log = read_csv(tmp_path / "run" / "log.csv")
    episodes = ~np.isnan(log["episode_return"])
    # CartPole pays 1 a step: an episode's return is its length; the episodes tile the steps.
    np.testing.assert_array_equal(log["episode_return"][episodes], log["episode_length"][episodes])
    assert log["episode_length"][episodes].sum() == log["step"][episodes][-1]
    assert log["episode"][episodes].tolist() == list(range(1, episodes.sum() + 1))
    assert np.all(log["epsilon"][episodes] <= 1) and not np.isnan(log["loss"][episodes][-1])
    for column in ("policy_loss", "value_loss", "entropy", "grad_norm"):
        assert np.isnan(log[column]).all(), f"DQN logged {column}"
    assert np.all(np.diff(log["wall_seconds"]) >= 0)
    assert result.metrics.history["episode_return"] == log["episode_return"][episodes].tolist()
    final = load_checkpoint(tmp_path / "run" / "final.pt")
    assert final["steps"] == 600 and "resume" not in final


def test_train_dqn_stops_at_the_first_evaluation_that_solves_the_env(tmp_path, no_pictures):
    agent, env = _dqn()
    result = train_dqn(
        agent,
        env,
        5000,
        eval_env=_eval_env(),
        eval_every=150,
        eval_episodes=1,
        solve_score=0.0,
        out_dir=tmp_path,
        progress=False,
    )
    assert result.solved_at_step == 150 and agent.steps == 150
    assert load_checkpoint(tmp_path / "final.pt")["steps"] == 150
    with pytest.raises(ValueError, match="no eval_env was given"):
        train_dqn(*_dqn(), 100, eval_every=50, progress=False)


def test_train_dqn_calls_on_step_and_without_out_dir_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    seen = []
    result = train_dqn(*_dqn(), 150, on_step=lambda agent: seen.append(agent.steps), progress=False)
    assert seen == list(range(1, 151))
    assert len(result.metrics.history["step"]) > 0 and list(tmp_path.iterdir()) == []


def test_train_dqn_stops_after_max_minutes_of_training(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(harness.time, "perf_counter", lambda: now[0])

    def a_second_per_step(agent):
        now[0] += 1.0

    result = train_dqn(
        *_dqn(), 1000, max_minutes=10 / 60, on_step=a_second_per_step, progress=False
    )
    assert result.agent.steps == 10 and not result.interrupted


def test_train_dqn_resumes_exactly_after_ctrl_c(tmp_path, no_pictures):
    stop_at = 123  # mid-episode, after updates began, before the first resume point

    def run(out, **options):
        agent, env = _dqn(seed=4)
        return train_dqn(
            agent,
            env,
            500,
            env_id="CartPole-v1",
            eval_env=_eval_env(),
            eval_every=250,
            eval_episodes=1,
            out_dir=out,
            checkpoint_every=300,
            progress=False,
            **options,
        )

    reference = run(tmp_path / "reference")

    def ctrl_c(agent):
        if agent.steps == stop_at:
            signal.raise_signal(signal.SIGINT)

    stopped = run(tmp_path / "run", on_step=ctrl_c)
    assert stopped.interrupted and stopped.agent.steps == stop_at
    assert load_checkpoint(tmp_path / "run" / "checkpoint.pt")["steps"] == stop_at
    assert not (tmp_path / "run" / "final.pt").exists()
    resumed = run(tmp_path / "run", resume=True)
    assert not resumed.interrupted
    for name in ("final.pt", "best.pt"):
        mine = load_checkpoint(tmp_path / "run" / name)["weights"]
        theirs = load_checkpoint(tmp_path / "reference" / name)["weights"]
        assert all(torch.equal(mine[key], theirs[key]) for key in theirs)
    target, expected = resumed.agent.target.state_dict(), reference.agent.target.state_dict()
    assert all(torch.equal(target[key], expected[key]) for key in expected)
    assert _rows(tmp_path / "run") == _rows(tmp_path / "reference")
    assert resumed.evaluations == reference.evaluations


def test_a_resume_point_without_the_replay_memory_is_smaller(tmp_path, no_pictures):
    def run(out, save_buffer):
        return train_dqn(
            *_dqn(), 200, out_dir=out, checkpoint_every=200, save_buffer=save_buffer, progress=False
        )

    run(tmp_path / "with", True)
    run(tmp_path / "without", False)
    assert "buffer" in load_checkpoint(tmp_path / "with" / "checkpoint.pt")["resume"]
    assert "buffer" not in load_checkpoint(tmp_path / "without" / "checkpoint.pt")["resume"]
    size = (tmp_path / "without" / "checkpoint.pt").stat().st_size
    assert size < (tmp_path / "with" / "checkpoint.pt").stat().st_size / 2


# --- train_a2c ------------------------------------------------------------------------------

# Breakout's games end within a few hundred steps (Kung-Fu's take thousands).
BREAKOUT = "ALE/Breakout-v5"


def _a2c(**overrides):
    values = dict(n_games=2, rollout_length=5, hidden_size=32, crop=(0, 0, 0, 0))
    values.update(overrides)
    config = A2CConfig(**values)
    probe = make_env_for(BREAKOUT, training=True, **config.env_options())
    agent = A2C(probe.observation_space.shape, probe.action_space.n, config)
    probe.close()
    return agent


def test_train_a2c_logs_finished_games_with_the_loss_pieces(tmp_path, no_pictures):
    result = train_a2c(
        _a2c(),
        400,
        env_id=BREAKOUT,
        eval_every=200,
        eval_episodes=1,
        eval_max_steps=100,
        out_dir=tmp_path,
        progress=False,
    )
    assert result.agent.steps == 400 and result.agent.updates == 40
    assert [step for step, _, _ in result.evaluations] == [200, 400]
    assert (tmp_path / "log.csv").read_text().splitlines()[0].split(",") == LOG_COLUMNS
    log = read_csv(tmp_path / "log.csv")
    games = ~np.isnan(log["episode_return"])
    assert games.sum() >= 2, "whole games (all lives) are logged as they end"
    assert np.all(log["episode_length"][games] > 50)  # a game, not a life
    for column in ("loss", "policy_loss", "value_loss", "entropy", "grad_norm"):
        assert np.isfinite(log[column][games]).all(), column
    assert np.all(log["entropy"][games] > 0)
    for column in ("epsilon", "q_mean"):
        assert np.isnan(log[column]).all(), f"A2C logged {column}"
    assert np.all(np.diff(log["wall_seconds"]) >= 0)
    final = load_checkpoint(tmp_path / "final.pt")
    assert (final["algo"], final["env_id"], final["steps"]) == ("a2c", BREAKOUT, 400)
    assert final["env_options"]["crop"] is None and final["config"]["n_games"] == 2


def test_train_a2c_stops_after_max_minutes_and_refuses_other_hyperparameters(tmp_path, no_pictures):
    result = train_a2c(
        _a2c(),
        400,
        env_id=BREAKOUT,
        max_minutes=1e-6,
        out_dir=tmp_path,
        checkpoint_every=10,
        progress=False,
    )
    assert result.agent.steps == 0  # out of time before the first rollout
    assert load_checkpoint(tmp_path / "final.pt")["steps"] == 0
    save_checkpoint(
        tmp_path / "checkpoint.pt",
        result.agent.checkpoint(BREAKOUT, result.agent.config.env_options(), resume={"run": {}}),
    )
    with pytest.raises(CheckpointError, match=r"other hyperparameters \(lr=0.0007 here 0.01\)"):
        train_a2c(
            _a2c(lr=0.01), 400, env_id=BREAKOUT, out_dir=tmp_path, resume=True, progress=False
        )
