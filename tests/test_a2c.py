import math

import numpy as np
import pytest
import torch
from torch import nn

from rlcourse.agents import a2c
from rlcourse.agents.a2c import (
    A2CConfig,
    EnvPool,
    Rollout,
    advantages,
    entropy,
    n_step_returns,
    policy_loss,
    train_on_rollout,
    value_loss,
)
from rlcourse.networks import RecurrentActorCritic
from rlcourse.toy_envs import FrameCounterEnv, frame_at
from rlcourse.training import CheckpointError, save_checkpoint
from rlcourse.wrappers import FrameStack

SHAPE = (1, 16, 16)


def toy_game(episode_length=100, truncate_at=None):
    return FrameStack(
        FrameCounterEnv(shape=SHAPE[1:], episode_length=episode_length, truncate_at=truncate_at),
        k=1,
    )


def games(*lengths, truncate_at=None):
    """make_env for the pool: the i-th call makes a game ending after lengths[i] steps."""
    made = iter(lengths)
    return lambda: toy_game(next(made), truncate_at)


def toy_agent(seed=0):
    torch.manual_seed(seed)
    return RecurrentActorCritic(SHAPE, n_actions=4, hidden_size=8, channels=4)


# --- the loss pieces on hand-computed values ---------------------------------------------


def test_n_step_returns_restart_after_a_game_ends():
    rewards = torch.tensor([[1.0, 2.0, 3.0]])
    alive = torch.tensor([[True, False, True]])
    # G2 = 3 + 0.5 * 10 = 8; G1 = 2 (the game ended); G0 = 1 + 0.5 * 2 = 2
    returns = n_step_returns(rewards, alive, torch.tensor([10.0]), gamma=0.5)
    assert returns.tolist() == [[2.0, 2.0, 8.0]]


def test_n_step_returns_refuse_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\[batch, time\]"):
        n_step_returns(torch.zeros(2, 3), torch.ones(2, 4, dtype=torch.bool), torch.zeros(2), 0.9)
    with pytest.raises(ValueError, match="last_values must be"):
        n_step_returns(torch.zeros(2, 3), torch.ones(2, 3, dtype=torch.bool), torch.zeros(3), 0.9)


def test_advantages_are_detached_and_value_loss_trains_only_the_critic():
    values = torch.tensor([1.0, 2.0], requires_grad=True)
    returns = torch.tensor([3.0, 2.0], requires_grad=True)
    advantage = advantages(returns, values)
    assert advantage.tolist() == [2.0, 0.0] and not advantage.requires_grad
    loss = value_loss(values, returns)
    assert loss.item() == pytest.approx(2.0)
    loss.backward()
    assert values.grad.tolist() == [-2.0, 0.0] and returns.grad is None


def test_policy_loss_and_entropy_by_hand():
    logits = torch.log(torch.tensor([[0.5, 0.25, 0.25], [0.1, 0.8, 0.1]]))
    actions = torch.tensor([1, 1])
    advantage = torch.tensor([2.0, -1.0])
    expected = -(math.log(0.25) * 2.0 + math.log(0.8) * -1.0) / 2
    assert policy_loss(logits, actions, advantage).item() == pytest.approx(expected, rel=1e-6)
    h0 = -(0.5 * math.log(0.5) + 2 * 0.25 * math.log(0.25))
    h1 = -(2 * 0.1 * math.log(0.1) + 0.8 * math.log(0.8))
    assert entropy(logits).item() == pytest.approx((h0 + h1) / 2, rel=1e-6)


class TableAgent(nn.Module):
    """Logits and value looked up by the observation's first pixel: outputs known by hand."""

    obs_shape = (1, 1, 1)
    n_actions = 2

    def __init__(self, values):
        super().__init__()
        self.table_logits = nn.Parameter(torch.zeros(len(values), 2))
        self.table_values = nn.Parameter(torch.tensor(values))

    def initial_memory(self, batch_size):
        return torch.zeros(batch_size, 1), torch.zeros(batch_size, 1)

    def forward(self, observation, memory):
        index = observation.view(-1).long()
        return memory, self.table_logits[index], self.table_values[index]


def tiny_rollout(terminated=(False, False, False), truncated=(False, False, False), trunc_v=0.0):
    obs = np.arange(3, dtype=np.uint8).reshape(1, 3, 1, 1, 1)  # states 0, 1, 2; next state 3
    return Rollout(
        observations=obs,
        actions=np.array([[0, 1, 0]]),
        rewards=np.array([[1.0, 2.0, 3.0]], np.float32),
        terminated=np.array([terminated]),
        truncated=np.array([truncated]),
        truncation_values=np.array([[0.0, trunc_v if any(truncated) else 0.0, 0.0]], np.float32),
        next_observations=np.full((1, 1, 1, 1), 3, np.uint8),
        initial_memory=(torch.zeros(1, 1), torch.zeros(1, 1)),
    )


def test_train_on_rollout_matches_hand_computed_losses():
    agent = TableAgent([0.5, 1.0, 1.5, 2.0])
    config = A2CConfig(gamma=0.5, reward_scale=1.0, entropy_coef=0.01, value_coef=0.5)
    optimizer = torch.optim.SGD(agent.parameters(), lr=0.0)
    stats = train_on_rollout(agent, optimizer, tiny_rollout(), config)
    # returns: G2 = 3 + .5 * 2 = 4, G1 = 2 + .5 * 4 = 4, G0 = 1 + .5 * 4 = 3
    # advantages 2.5, 3, 2.5; uniform policy over 2 actions: log pi = -log 2
    assert stats["value_loss"] == pytest.approx((2.5**2 + 3**2 + 2.5**2) / 3)
    assert stats["policy_loss"] == pytest.approx(math.log(2) * 8 / 3)
    assert stats["entropy"] == pytest.approx(math.log(2))
    expected = stats["policy_loss"] + 0.5 * stats["value_loss"] - 0.01 * math.log(2)
    assert stats["loss"] == pytest.approx(expected)


def test_terminated_stops_the_bootstrap_truncated_keeps_it():
    agent = TableAgent([0.5, 1.0, 1.5, 2.0])
    config = A2CConfig(gamma=0.5, reward_scale=1.0)
    optimizer = torch.optim.SGD(agent.parameters(), lr=0.0)
    # game over after step 1: G1 = 2, G0 = 1 + .5 * 2 = 2; G2 = 4 as before
    over = train_on_rollout(agent, optimizer, tiny_rollout(terminated=(False, True, False)), config)
    assert over["value_loss"] == pytest.approx((1.5**2 + 1.0**2 + 2.5**2) / 3)
    # cut by a time limit after step 1, V(last obs) = 6: G1 = 2 + .5 * 6 = 5, G0 = 3.5
    cut = tiny_rollout(truncated=(False, True, False), trunc_v=6.0)
    stats = train_on_rollout(agent, optimizer, cut, config)
    assert stats["value_loss"] == pytest.approx((3.0**2 + 4.0**2 + 2.5**2) / 3)


def test_train_on_rollout_clips_gradients_and_learns():
    agent = TableAgent([0.0, 0.0, 0.0, 0.0])
    config = A2CConfig(gamma=0.5, reward_scale=1.0, max_grad_norm=0.1, learning_rate=1.0)
    optimizer = torch.optim.SGD(agent.parameters(), lr=1.0)
    before = [p.detach().clone() for p in agent.parameters()]
    stats = train_on_rollout(agent, optimizer, tiny_rollout(), config)
    assert stats["grad_norm"] > 0.1  # the norm before clipping
    step = torch.cat(
        [(p.detach() - b).flatten() for p, b in zip(agent.parameters(), before, strict=True)]
    )
    assert step.norm().item() == pytest.approx(0.1, rel=1e-4)  # lr 1: the step is the clipped grad
    assert (agent.table_values.detach()[:3] > 0).all(), "values move towards positive returns"


def test_a2c_learns_a_two_step_bandit():
    """Reward 1 for action 0: after some updates the policy prefers it."""
    agent = TableAgent([0.0, 0.0, 0.0, 0.0])
    config = A2CConfig(gamma=0.9, reward_scale=1.0, entropy_coef=0.0)
    optimizer = torch.optim.Adam(agent.parameters(), lr=0.1)
    rng = np.random.default_rng(0)
    for _ in range(50):
        actions = rng.integers(0, 2, size=(4, 3))
        rollout = Rollout(
            np.tile(np.arange(3, dtype=np.uint8).reshape(1, 3, 1, 1, 1), (4, 1, 1, 1, 1)),
            actions,
            (actions == 0).astype(np.float32),
            np.zeros((4, 3), bool),
            np.zeros((4, 3), bool),
            np.zeros((4, 3), np.float32),
            np.full((4, 1, 1, 1), 3, np.uint8),
            (torch.zeros(4, 1), torch.zeros(4, 1)),
        )
        train_on_rollout(agent, optimizer, rollout, config)
    probs = torch.softmax(agent.table_logits.detach()[:3], -1)
    assert (probs[:, 0] > 0.8).all()


# --- the pool ----------------------------------------------------------------------------


def test_pool_shapes_and_dtypes():
    pool = EnvPool(toy_agent(), games(100, 100, 100), 3, seed=0)
    rollout = pool.interact(4)
    assert rollout.observations.shape == (3, 4, *SHAPE) and rollout.observations.dtype == np.uint8
    for name in ("actions", "rewards", "terminated", "truncated", "truncation_values"):
        assert getattr(rollout, name).shape == (3, 4), name
    assert rollout.actions.dtype == np.int64 and rollout.rewards.dtype == np.float32
    assert rollout.next_observations.shape == (3, *SHAPE)
    assert rollout.initial_memory[0].shape == (3, 8)
    assert rollout.alive.all() and pool.total_steps == 12
    pool.close()


def test_pool_zeros_only_a_finished_games_memory():
    agent = toy_agent()
    pool = EnvPool(agent, games(3, 100), 2, seed=0)
    rollout = pool.interact(3)  # game 0 ends on its 3rd step, game 1 plays on
    assert rollout.terminated.tolist() == [[False, False, True], [False, False, False]]
    h, c = pool.memory
    assert torch.all(h[0] == 0) and torch.all(c[0] == 0)
    # game 1's memory is what the agent computes from its three observations
    memory = agent.initial_memory(1)
    with torch.no_grad():
        for t in range(3):
            memory, _, _ = agent(torch.from_numpy(rollout.observations[1:2, t]), memory)
    assert torch.allclose(h[1], memory[0][0]) and torch.allclose(c[1], memory[1][0])
    assert torch.any(h[1] != 0)
    pool.close()


def test_pool_keeps_memory_between_calls():
    pool = EnvPool(toy_agent(), games(100, 100), 2, seed=0)
    pool.interact(2)
    kept = (pool.memory[0].clone(), pool.memory[1].clone())
    second = pool.interact(2)
    assert torch.equal(second.initial_memory[0], kept[0])
    assert torch.equal(second.initial_memory[1], kept[1])
    assert torch.any(kept[0] != 0)
    pool.close()


def test_pool_autoreset_gives_real_last_step_then_the_new_game():
    # Gymnasium's NEXT_STEP mode would insert a dummy step after the end; the pool's
    # SAME_STEP mode must not: step 2 is game 0's real last step, step 3 the new game's first.
    pool = EnvPool(toy_agent(), games(3, 100), 2, seed=0)
    rollout = pool.interact(5)
    assert rollout.rewards[0].tolist() == [1.0, 2.0, 3.0, 1.0, 2.0]
    assert rollout.terminated[0].tolist() == [False, False, True, False, False]
    first_of_game = [frame_at(t + 1000 * resets, SHAPE[1:]) for resets, t in
                     [(1, 0), (1, 1), (1, 2), (2, 0), (2, 1)]]  # fmt: skip
    for t, frame in enumerate(first_of_game):
        assert np.array_equal(rollout.observations[0, t, 0], frame), t
    assert pool.finished_returns == [6.0] and pool.finished_lengths == [3]
    assert pool.total_steps == 10
    pool.close()


def test_pool_bootstraps_a_truncated_game_from_its_last_observation():
    agent = toy_agent()
    pool = EnvPool(agent, games(100, 100, truncate_at=2), 2, seed=0)
    rollout = pool.interact(2)
    assert rollout.truncated[:, 1].all() and not rollout.terminated.any()
    memory = agent.initial_memory(1)
    with torch.no_grad():
        for t in range(2):
            memory, _, _ = agent(torch.from_numpy(rollout.observations[:1, t]), memory)
        last = torch.from_numpy(frame_at(1000 + 2, SHAPE[1:])[None, None])
        _, _, value = agent(last, memory)
    assert rollout.truncation_values[0, 1] == pytest.approx(value.item(), rel=1e-5)
    assert rollout.truncation_values[:, 0].tolist() == [0.0, 0.0]
    pool.close()


def test_pool_sampling_is_seeded():
    def actions(seed):
        pool = EnvPool(toy_agent(), games(100, 100), 2, seed=seed)
        result = pool.interact(6).actions
        pool.close()
        return result

    assert np.array_equal(actions(1), actions(1))
    assert not np.array_equal(actions(1), actions(2))


def test_pool_errors():
    with pytest.raises(ValueError, match="n_parallel_games must be >= 1"):
        EnvPool(toy_agent(), games(), 0)
    with pytest.raises(TypeError, match="make_env must be a function"):
        EnvPool(toy_agent(), toy_game(), 2)
    with pytest.raises(ValueError, match=r"built for \(1, 42, 42\)"):
        EnvPool(RecurrentActorCritic((1, 42, 42), 4), games(100), 1)
    pool = EnvPool(toy_agent(), games(100), 1)
    with pytest.raises(ValueError, match="n_steps must be a positive int"):
        pool.interact(0)
    pool.close()


# --- the Kung-Fu env, evaluation, checkpoints ---------------------------------------------


def test_kungfu_env_is_cropped_gray_42x42():
    env = a2c.make_kungfu_env()
    obs, _ = env.reset(seed=0)
    assert obs.shape == (1, 42, 42) and obs.dtype == np.uint8
    stacked = a2c.make_kungfu_env(frame_stack=4, size=32)
    assert stacked.observation_space.shape == (4, 32, 32)
    assert env.unwrapped.get_action_meanings()[0] == "NOOP" and env.action_space.n == 14


def test_evaluate_plays_whole_games():
    scores = a2c.evaluate(toy_agent(), games(3, 5), 2, seed=0)
    assert scores.tolist() == [6.0, 15.0]  # rewards 1 + 2 + 3 and 1 + ... + 5
    with pytest.raises(ValueError, match="n_games"):
        a2c.evaluate(toy_agent(), games(3), 0)


def test_config_checks_its_values():
    with pytest.raises(ValueError, match="n_games must be a positive int"):
        A2CConfig(n_games=0)
    with pytest.raises(ValueError, match="gamma"):
        A2CConfig(gamma=1.5)
    with pytest.raises(ValueError, match="unknown A2CConfig fields"):
        A2CConfig.from_dict({"n_game": 3})


def test_checkpoint_round_trip_and_clear_errors(tmp_path):
    config = A2CConfig(hidden_size=16)
    torch.manual_seed(0)
    agent = config.make_agent()
    path = save_checkpoint(tmp_path / "a2c.pt", a2c.checkpoint_payload(agent, config, 1234))
    loaded, loaded_config, payload = a2c.load_agent(path)
    assert loaded_config == config and payload["steps"] == 1234
    for key, value in agent.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)

    small = tmp_path / "small.pt"
    a2c.export_checkpoint(path, small)
    assert small.stat().st_size < path.stat().st_size
    half, _, _ = a2c.load_agent(small)
    assert half.dense.weight.dtype == torch.float32

    wrong_shape = a2c.checkpoint_payload(agent, config, 1)
    wrong_shape["config"]["hidden_size"] = 32
    save_checkpoint(tmp_path / "shape.pt", wrong_shape)
    with pytest.raises(CheckpointError, match="another network shape"):
        a2c.load_agent(tmp_path / "shape.pt")

    other_game = a2c.checkpoint_payload(agent, config, 1, env_id="ALE/Pong-v5")
    save_checkpoint(tmp_path / "pong.pt", other_game)
    with pytest.raises(CheckpointError, match="env_id='ALE/Pong-v5'"):
        a2c.load_agent(tmp_path / "pong.pt")

    (tmp_path / "corrupt.pt").write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        a2c.load_agent(tmp_path / "corrupt.pt")


def test_shipped_checkpoint_loads_and_plays():
    if not a2c.PRETRAINED.exists():
        pytest.skip("no shipped checkpoint yet")
    assert a2c.PRETRAINED.stat().st_size < 8 * 2**20
    agent, config, payload = a2c.load_agent()
    assert agent.obs_shape == (config.frame_stack, config.size, config.size)
    assert payload["steps"] > 0


def test_train_writes_log_and_checkpoints_and_resumes(tmp_path):
    config = A2CConfig(n_games=2, rollout_length=3, hidden_size=16, seed=1)
    kwargs = dict(eval_every_s=0.0, eval_games=1, eval_max_steps=5, threads=1, quiet=True)
    first = a2c.train(config, tmp_path, total_steps=12, **kwargs)
    assert first["steps"] == 12
    assert (tmp_path / "last.pt").exists() and (tmp_path / "best.pt").exists()
    second = a2c.train(config, tmp_path, total_steps=24, **kwargs)
    assert second["steps"] == 24
    log = (tmp_path / "log.csv").read_text().splitlines()
    assert log[0].startswith("wall_s,train_s,steps")
    assert [row.split(",")[2] for row in log[1:]] == ["6", "12", "18", "24"]
    with pytest.raises(CheckpointError, match="another config"):
        a2c.train(A2CConfig(n_games=3), tmp_path, total_steps=30, **kwargs)


def test_cli_help_documents_every_option(capsys):
    with pytest.raises(SystemExit):
        a2c.main(["train", "--help"])
    out = capsys.readouterr().out
    for field in ("--n-games", "--rollout-length", "--entropy-coef", "--learning-rate"):
        assert field in out
    assert "(default: 16)" in out and "Games played in parallel" in out


def test_plot_log_writes_a_png(tmp_path):
    csv = tmp_path / "log.csv"
    header = ",".join(a2c.LOG_FIELDS)
    rows = [
        "60,50,1000,20,500,100,400,2.6,0.1,1.0,0.5",
        "120,100,2000,20,900,150,800,2.5,0.1,1.0,0.5",
    ]
    csv.write_text("\n".join([header, *rows]) + "\n")
    png = a2c.plot_log(csv, tmp_path / "curve.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_pool_with_episodic_life_scores_whole_games():
    from rlcourse.wrappers import EpisodicLife

    def make():
        game = FrameCounterEnv(shape=SHAPE[1:], episode_length=100, life_length=2, lives=2)
        return FrameStack(EpisodicLife(game), k=1)

    pool = EnvPool(toy_agent(), make, 1, seed=0)
    rollout = pool.interact(3)
    # life 1: steps 1, 2 (ends the episode); EpisodicLife's reset plays frame 3 itself;
    # life 2: step 4 ends the game. One game, scored 1 + 2 + 4.
    assert rollout.terminated[0].tolist() == [False, True, True]
    assert rollout.rewards[0].tolist() == [1.0, 2.0, 4.0]
    assert torch.all(pool.memory[0] == 0)
    assert pool.finished_returns == [7.0] and pool.finished_lengths == [3]
    pool.close()


def test_config_makes_whole_games_for_evaluation_and_lives_for_training():
    from rlcourse.wrappers import EpisodicLife

    config = A2CConfig(episodic_life=True)
    assert a2c._has_wrapper(config.make_training_env(), EpisodicLife)
    assert not a2c._has_wrapper(config.make_env(), EpisodicLife)


def test_pool_on_async_vector_env_behaves_the_same():
    pool = EnvPool(toy_agent(), lambda: toy_game(3), 2, seed=0, vectorization="async")
    rollout = pool.interact(4)
    assert rollout.rewards.tolist() == [[1.0, 2.0, 3.0, 1.0]] * 2
    assert rollout.terminated[:, 2].all() and not rollout.terminated[:, 3].any()
    assert pool.finished_returns == [6.0, 6.0]
    pool.close()
    with pytest.raises(ValueError, match="vectorization must be"):
        EnvPool(toy_agent(), games(100), 1, vectorization="threads")
