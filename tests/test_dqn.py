import dataclasses

import numpy as np
import pytest
import torch

from rlcourse.agents.dqn import (
    DQN,
    DQNConfig,
    double_dqn_next_values,
    epsilon_greedy,
    load_agent,
    td_target,
    train,
)
from rlcourse.envs import make_env
from rlcourse.toy_envs import ChainEnv
from rlcourse.training import CheckpointError, evaluate, read_csv


def test_td_target_masks_terminated_but_bootstraps_truncated():
    rewards = torch.tensor([1.0, 1.0, 1.0])
    next_q = torch.tensor([[0.0, 2.0], [0.0, 2.0], [0.0, 2.0]])
    terminated = torch.tensor([False, True, False])
    # the third transition was truncated: it keeps its bootstrap like the first
    target = td_target(rewards, next_q, terminated, gamma=0.9)
    assert torch.allclose(target, torch.tensor([1 + 0.9 * 2, 1.0, 1 + 0.9 * 2]))


def test_dqn_and_double_dqn_targets_differ_exactly_as_the_formulas_say():
    """Hand-built batch: the online net prefers action 0, the target net rates action 1 best.

    DQN:        y = r + g * max_a Q_target(s', a)             = 1 + 0.5 * 4
    Double DQN: y = r + g * Q_target(s', argmax_a Q_online(s', a)) = 1 + 0.5 * 1
    """
    rewards, terminated = torch.tensor([1.0]), torch.tensor([False])
    next_q_online = torch.tensor([[3.0, 2.0]])
    next_q_target = torch.tensor([[1.0, 4.0]])
    dqn = td_target(rewards, next_q_target, terminated, gamma=0.5)
    double = td_target(
        rewards, double_dqn_next_values(next_q_online, next_q_target), terminated, gamma=0.5
    )
    assert dqn.item() == pytest.approx(3.0) and double.item() == pytest.approx(1.5)
    assert (dqn - double).item() == pytest.approx(0.5 * (4.0 - 1.0))


def test_agent_update_uses_double_targets_when_asked():
    env = ChainEnv(3)
    for double in (False, True):
        agent = DQN(
            env.observation_space,
            env.action_space,
            DQNConfig(double=double, device="cpu", learning_starts=1, batch_size=1),
        )
        for layer in (agent.q, agent.target):
            for p in layer.parameters():
                torch.nn.init.zeros_(p)
        # Make the online net prefer action 0 and the target net prefer action 1.
        agent.q.layers[-1].bias.data = torch.tensor([3.0, 2.0])
        agent.target.layers[-1].bias.data = torch.tensor([1.0, 4.0])
        obs = np.eye(3, dtype=np.float32)
        agent.buffer.add(obs[0], 1, 1.0, obs[1], False, False)
        batch = agent.buffer.sample(1)
        with torch.no_grad():
            expected = 1 + 0.99 * (1.0 if double else 4.0)
            q_taken = 2.0
        info = agent.update(batch)
        assert info.loss == pytest.approx(
            torch.nn.functional.smooth_l1_loss(torch.tensor(q_taken), torch.tensor(expected)).item()
        )


def test_epsilon_schedule_and_greedy_choice():
    agent = DQN(
        ChainEnv(3).observation_space,
        ChainEnv(3).action_space,
        DQNConfig(epsilon_start=1.0, epsilon_end=0.1, exploration_steps=100, device="cpu"),
    )
    values = []
    for steps in (0, 50, 100, 1000):
        agent.steps = steps
        values.append(agent.epsilon)
    assert values == pytest.approx([1.0, 0.55, 0.1, 0.1])
    rng = np.random.default_rng(0)
    picks = [epsilon_greedy(np.array([0.0, 1.0, 0.5]), 0.3, rng) for _ in range(5000)]
    share = np.bincount(picks, minlength=3) / len(picks)
    assert share == pytest.approx([0.1, 0.8, 0.1], abs=0.02)


def test_dqn_learns_the_optimal_values_of_a_chain():
    env = ChainEnv(n_states=4, max_steps=20)
    config = DQNConfig(
        lr=5e-3,
        learning_starts=200,
        exploration_steps=1000,
        epsilon_end=0.2,
        target_update_interval=100,
        hidden_sizes=(32,),
        seed=1,
        device="cpu",
    )
    agent = DQN(env.observation_space, env.action_space, config)
    train(agent, env, 4000, progress=False)
    q = np.stack([agent.q_values(np.eye(4, dtype=np.float32)[s]) for s in range(3)])
    assert np.abs(q - env.optimal_q(0.99)).max() < 0.1
    assert all(agent.greedy(np.eye(4, dtype=np.float32)[s]) == 1 for s in range(3))


def _cartpole_run(tmp_path, total, seed=3, resume=False, name="run"):
    env = make_env("CartPole-v1")
    config = DQNConfig(
        seed=seed,
        learning_starts=200,
        exploration_steps=1000,
        device="cpu",
        hidden_sizes=(32, 32),
        target_update_interval=100,
    )
    agent = DQN(env.observation_space, env.action_space, config)
    result = train(
        agent,
        env,
        total,
        out_dir=tmp_path / name,
        checkpoint_every=300,
        resume=resume,
        progress=False,
    )
    return result


def test_same_seed_same_evaluation_returns(tmp_path):
    scores = []
    for name in ("a", "b"):
        agent = _cartpole_run(tmp_path, 1500, name=name).agent
        scores.append(evaluate(agent.greedy, make_env("CartPole-v1"), 3, seed=100))
    assert np.array_equal(*scores)
    assert scores[0].min() > 0


def test_interrupted_and_resumed_run_equals_an_uninterrupted_one(tmp_path):
    whole = _cartpole_run(tmp_path, 2000, name="whole").agent
    _cartpole_run(tmp_path, 1300, name="cut")  # "interrupted" after 1300 steps
    resumed = _cartpole_run(tmp_path, 2000, name="cut", resume=True).agent
    assert resumed.steps == whole.steps == 2000
    for a, b in zip(whole.q.state_dict().values(), resumed.q.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert np.array_equal(whole.rng.random(4), resumed.rng.random(4))
    # The resumed run's metrics (reloaded from the log, then continued) are the whole run's.
    logs = [read_csv(tmp_path / name / "log.csv") for name in ("whole", "cut")]
    for column in ("step", "episode_return", "loss", "q_mean"):
        np.testing.assert_array_equal(logs[0][column], logs[1][column])


def test_run_files_metrics_and_best_weights(tmp_path):
    env = make_env("CartPole-v1")
    config = DQNConfig(learning_starts=100, exploration_steps=500, device="cpu",
                       hidden_sizes=(16,), target_update_interval=50)  # fmt: skip
    agent = DQN(env.observation_space, env.action_space, config)
    result = train(agent, env, 800, eval_env=make_env("CartPole-v1"), eval_every=200,
                   eval_episodes=2, out_dir=tmp_path, progress=False, metrics_window=5)  # fmt: skip
    assert {"log.csv", "final.pt", "best.pt", "metrics.png"} <= {p.name for p in tmp_path.iterdir()}
    best_step = max(result.state.evaluations, key=lambda e: e[1])[0]  # the first best
    assert load_agent(tmp_path / "best.pt")[1]["steps"] == best_step
    log = read_csv(tmp_path / "log.csv")
    episodes = ~np.isnan(log["episode_return"])
    assert np.isnan(log["loss"][episodes][0])  # no update before learning starts
    assert np.all(np.isfinite(log["loss"][episodes & (log["step"] > 200)]))
    assert result.metrics.history["episode_return"] == log["episode_return"][episodes].tolist()
    assert [e[0] for e in result.metrics.evaluations] == [200, 400, 600, 800]


def test_checkpoint_files_and_errors(tmp_path):
    _cartpole_run(tmp_path, 600, name="run")
    agent, payload = load_agent(tmp_path / "run" / "final.pt")
    assert payload["env_id"] == "CartPole-v1" and agent.steps == 600
    (tmp_path / "bad.pt").write_bytes(b"\x80\x02not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_agent(tmp_path / "bad.pt")
    # truncated file: as if the disk filled up mid-write (never happens with ours: atomic)
    data = (tmp_path / "run" / "final.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_agent(tmp_path / "cut.pt")
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_agent(tmp_path / "missing.pt")
    chain = ChainEnv(5)
    with pytest.raises(CheckpointError, match=r"shape \(4,\); this env gives \(5,\)"):
        load_agent(tmp_path / "run" / "final.pt", env=chain)
    env = make_env("CartPole-v1")
    other = DQN(env.observation_space, env.action_space, DQNConfig(device="cpu", hidden_sizes=(8,)))
    with pytest.raises(CheckpointError, match="layer sizes differ"):
        other.load_state_dict(torch.load(tmp_path / "run" / "final.pt", weights_only=True))
    with pytest.raises(CheckpointError, match="nothing to resume"):
        train(other, env, 10, out_dir=tmp_path / "empty", resume=True, progress=False)


def test_resume_refuses_a_checkpoint_of_another_env(tmp_path):
    _cartpole_run(tmp_path, 400, name="run")
    env = make_env("CartPole-v1")
    agent = DQN(env.observation_space, env.action_space, DQNConfig(device="cpu"))
    with pytest.raises(CheckpointError, match="env_id='CartPole-v1'.*'Acrobot-v1' is needed"):
        train(
            agent,
            env,
            800,
            env_id="Acrobot-v1",
            out_dir=tmp_path / "run",
            resume=True,
            progress=False,
        )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("gamma", 1.5, "gamma must be in"),
        ("batch_size", 0, "batch_size must be a positive int"),
        ("tau", 0.0, "tau must be in"),
        ("loss", "l1", "loss must be 'huber' or 'mse'"),
        ("epsilon_end", -0.1, "epsilon_end must be in"),
    ],
)
def test_bad_config_values(field, value, message):
    with pytest.raises(ValueError, match=message):
        DQNConfig(**{field: value})


def test_config_round_trip_and_unknown_fields():
    config = DQNConfig(hidden_sizes=(8, 8), double=True)
    assert DQNConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown DQNConfig fields"):
        DQNConfig.from_dict({**dataclasses.asdict(config), "gama": 0.9})


def test_network_rejects_wrong_observation_shapes():
    env = make_env("CartPole-v1")
    agent = DQN(env.observation_space, env.action_space, DQNConfig(device="cpu"))
    with pytest.raises(ValueError, match=r"built for inputs of shape \(batch, 4\), got \(1, 3\)"):
        agent.act(np.zeros(3, np.float32), epsilon=0.0)


def test_pixel_dqn_uses_the_nature_cnn_and_the_frame_buffer():
    from rlcourse.agents.dqn import atari_config, make_env_for
    from rlcourse.buffers import AtariReplayBuffer
    from rlcourse.networks import NatureCNN

    env = make_env_for("ALE/MsPacman-v5", training=True)
    config = atari_config(learning_starts=40, buffer_size=500, batch_size=4, device="cpu")
    agent = DQN(env.observation_space, env.action_space, config)
    assert isinstance(agent.q, NatureCNN) and isinstance(agent.buffer, AtariReplayBuffer)
    result = train(agent, env, 60, progress=False)
    assert agent.updates == (60 - 40) // 4 + 1 and result.agent.steps == 60
    eval_env = make_env_for("ALE/MsPacman-v5", training=False)
    score = evaluate(agent.greedy, eval_env, 1, seed=0, max_steps=50)
    assert score[0] >= 0 and float(score[0]).is_integer()
