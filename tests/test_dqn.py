"""DQN and Double DQN: the formulas, the agent's update, replay memory, checkpoints.

The loop that drives the agent (run directory, evaluations, resume) is tested in
test_training.py, test_harness.py and test_resume.py.
"""

import dataclasses

import gymnasium as gym
import numpy as np
import pytest
import torch

from rlcourse.agents.dqn import (
    DQN,
    PRESETS,
    DQNConfig,
    atari_100k_config,
    atari_config,
    compute_dqn_loss,
    double_dqn_target,
    make_adam,
    td_target,
    update_target_network,
)
from rlcourse.buffers import AtariReplayBuffer, ReplayBuffer, ReplaySample
from rlcourse.checkpoints import CheckpointError
from rlcourse.envs import make_env, make_env_for
from rlcourse.evaluation import evaluate
from rlcourse.policies import QPolicy, epsilon_greedy
from rlcourse.toy_envs import ChainEnv
from rlcourse.training import train_dqn

# --- the formulas ---------------------------------------------------------------------------


def test_td_target_masks_terminated_but_bootstraps_truncated():
    rewards = torch.tensor([1.0, 1.0, 1.0, 1.0])
    next_q = torch.tensor([[0.0, 2.0]] * 4)
    # a step that goes on; one that ended the game; one cut by a time limit; one both
    terminated = torch.tensor([False, True, False, True])
    truncated = torch.tensor([False, False, True, True])
    target = td_target(rewards, next_q, terminated, truncated, gamma=0.9)
    assert target.tolist() == pytest.approx([1 + 0.9 * 2, 1.0, 1 + 0.9 * 2, 1.0])
    # the truncated flag changes nothing: only `terminated` cuts the bootstrap
    not_truncated = td_target(rewards, next_q, terminated, torch.zeros(4, dtype=torch.bool), 0.9)
    assert torch.equal(target, not_truncated)


def test_double_dqn_target_masks_terminated_but_bootstraps_truncated():
    rewards = torch.tensor([1.0, 1.0])
    online, target_q = torch.tensor([[3.0, 2.0]] * 2), torch.tensor([[1.0, 4.0]] * 2)
    yes_no, no = torch.tensor([True, False]), torch.tensor([False, False])
    cut = double_dqn_target(rewards, online, target_q, terminated=no, truncated=yes_no, gamma=0.5)
    assert cut.tolist() == [1.5, 1.5]  # 1 + 0.5 * Q_target(s', argmax Q_online = 0)
    ended = double_dqn_target(rewards, online, target_q, terminated=yes_no, truncated=no, gamma=0.5)
    assert ended.tolist() == [1.0, 1.5]


def test_dqn_and_double_dqn_targets_differ_exactly_as_the_formulas_say():
    """Hand-built batch: the online net prefers action 0, the target net rates action 1 best.

    DQN:        y = r + g * max_a Q_target(s', a)             = 1 + 0.5 * 4
    Double DQN: y = r + g * Q_target(s', argmax_a Q_online(s', a)) = 1 + 0.5 * 1
    """
    rewards, no = torch.tensor([1.0]), torch.tensor([False])
    next_q_online = torch.tensor([[3.0, 2.0]])
    next_q_target = torch.tensor([[1.0, 4.0]])
    dqn = td_target(rewards, next_q_target, no, no, gamma=0.5)
    double = double_dqn_target(rewards, next_q_online, next_q_target, no, no, gamma=0.5)
    assert dqn.item() == pytest.approx(3.0) and double.item() == pytest.approx(1.5)
    assert (dqn - double).item() == pytest.approx(0.5 * (4.0 - 1.0))


def test_epsilon_schedule_and_greedy_choice():
    env = ChainEnv(3)
    config = DQNConfig(epsilon_start=1.0, epsilon_end=0.1, exploration_steps=100, device="cpu")
    agent = DQN(env.observation_space, env.action_space, config)
    values = []
    for steps in (0, 50, 100, 1000):
        agent.steps = steps
        values.append(agent.epsilon)
    assert values == pytest.approx([1.0, 0.55, 0.1, 0.1])
    rng = np.random.default_rng(0)
    picks = [epsilon_greedy(np.array([0.0, 1.0, 0.5]), 0.3, rng) for _ in range(5000)]
    share = np.bincount(picks, minlength=3) / len(picks)
    assert share == pytest.approx([0.1, 0.8, 0.1], abs=0.02)


def test_explore_repeat_holds_each_random_action_until_it_runs_out_or_the_episode_ends():
    env = ChainEnv(3)
    config = DQNConfig(explore_repeat=4, exploration_steps=0, epsilon_end=1.0, device="cpu")
    agent = DQN(env.observation_space, env.action_space, config)
    obs = np.zeros(3, np.float32)
    actions = [agent.act(obs) for _ in range(400)]
    runs = np.array(actions).reshape(100, 4)
    assert (runs == runs[:, :1]).all()  # held 4 steps each
    assert 0.35 < runs[:, 0].mean() < 0.65  # then drawn afresh, both actions
    agent.act(obs)  # a new held action, 3 steps left ...
    agent.observe(obs, agent.explore_action, 0.0, obs, terminated=False, truncated=True)
    assert agent.explore_left == 0  # ... dropped at the episode's end
    for _ in range(20):  # a call asking for greedy play mid-streak gets the greedy action
        agent.act(obs)
        if agent.explore_left > 0 and agent.explore_action != agent.greedy(obs):
            break
    assert agent.explore_left > 0 and agent.explore_action != agent.greedy(obs)
    assert agent.act(obs, epsilon=0.0) == agent.greedy(obs)
    assert agent.explore_left == 0
    greedy = DQN(
        env.observation_space, env.action_space, dataclasses.replace(config, epsilon_end=0.0)
    )
    assert len({greedy.act(obs) for _ in range(20)}) == 1  # nothing held without exploration


def test_explore_repeat_one_is_plain_epsilon_greedy():
    env = ChainEnv(3)
    obs = np.zeros(3, np.float32)
    config = DQNConfig(exploration_steps=0, epsilon_end=0.5, seed=3, device="cpu")
    plain = DQN(env.observation_space, env.action_space, config)
    rng = np.random.default_rng(3)
    q = plain.q_values(obs)
    assert [plain.act(obs) for _ in range(200)] == [epsilon_greedy(q, 0.5, rng) for _ in range(200)]


# --- the agent's update ---------------------------------------------------------------------


def _known_agent(double=False, loss="mse"):
    """A 3-state chain agent whose nets ignore the input: online Q = (3, 2), target Q = (1, 4)."""
    env = ChainEnv(3)
    config = DQNConfig(
        double=double,
        loss=loss,
        device="cpu",
        learning_starts=1,
        batch_size=1,
        gamma=0.5,
        hidden_sizes=(4,),
    )
    agent = DQN(env.observation_space, env.action_space, config)
    for net in (agent.q, agent.target):
        for p in net.parameters():
            torch.nn.init.zeros_(p)
    agent.q.layers[-1].bias.data = torch.tensor([3.0, 2.0])
    agent.target.layers[-1].bias.data = torch.tensor([1.0, 4.0])
    return agent


def _batch(terminated, truncated, action=1, reward=1.0):
    obs = np.eye(3, dtype=np.float32)
    return ReplaySample(
        obs[:1],
        np.array([action]),
        np.array([reward], np.float32),
        obs[1:2],
        np.array([terminated]),
        np.array([truncated]),
    )


@pytest.mark.parametrize(
    ("double", "terminated", "truncated", "target"),
    [
        (False, False, False, 1 + 0.5 * 4),  # max_a Q_target(s', a)
        (False, False, True, 1 + 0.5 * 4),  # truncated: still bootstrapped
        (False, True, False, 1.0),  # terminated: the reward alone
        (True, False, False, 1 + 0.5 * 1),  # Q_target(s', argmax_a Q_online(s', a) = 0)
        (True, False, True, 1 + 0.5 * 1),
        (True, True, False, 1.0),
    ],
)
def test_update_bootstraps_truncated_transitions(double, terminated, truncated, target):
    agent = _known_agent(double)
    info = agent.update(_batch(terminated, truncated, action=1))
    q_taken = 2.0  # the online net's Q(s, 1)
    assert info.q_mean == pytest.approx(q_taken)
    assert info.loss == pytest.approx((q_taken - target) ** 2)  # mse: the target is exact


def test_update_with_huber_loss_and_a_stored_truncated_transition():
    """Through the replay memory: the stored truncated flag reaches the update."""
    agent = _known_agent(double=False, loss="huber")
    obs = np.eye(3, dtype=np.float32)
    agent.buffer.add(obs[0], 1, 1.0, obs[1], False, True)  # truncated
    batch = agent.buffer.sample(1)
    assert batch.truncated.tolist() == [True] and batch.terminated.tolist() == [False]
    info = agent.update(batch)
    expected = torch.nn.functional.smooth_l1_loss(torch.tensor(2.0), torch.tensor(3.0))
    assert info.loss == pytest.approx(expected.item())


def test_update_bootstraps_n_step_transitions_with_their_own_discounts():
    agent = _known_agent(double=False)
    batch = ReplaySample(*(np.concatenate([a, a]) for a in _batch(False, False, action=1)))
    # the same transition, as a 2-step one (gamma**2) and as a 3-step one (gamma**3)
    info = agent.update(batch, discounts=np.array([0.25, 0.125], np.float32))
    targets = np.array([1 + 0.25 * 4, 1 + 0.125 * 4])
    assert info.loss == pytest.approx(float(np.mean((2.0 - targets) ** 2)))
    one_step = _known_agent(double=False).update(_batch(False, False, action=1))
    same = _known_agent(double=False).update(
        _batch(False, False, action=1), discounts=np.array([0.5], np.float32)
    )
    assert same.loss == pytest.approx(one_step.loss)


def test_n_step_dqn_samples_n_step_transitions_and_learns_the_chain():
    env = ChainEnv(n_states=4, max_steps=20)
    config = DQNConfig(
        lr=5e-3,
        learning_starts=200,
        exploration_steps=1000,
        epsilon_end=0.2,
        target_update_interval=100,
        hidden_sizes=(32,),
        seed=1,
        n_step=3,
        device="cpu",
    )
    agent = DQN(env.observation_space, env.action_space, config)
    calls = []
    sample_n_step = agent.buffer.sample_n_step
    agent.buffer.sample_n_step = lambda *args: calls.append(args) or sample_n_step(*args)
    train_dqn(agent, env, 3000, progress=False)
    assert calls and all(args[1:] == (3, config.gamma) for args in calls)
    assert all(agent.greedy(np.eye(4, dtype=np.float32)[s]) == 1 for s in range(3))
    q = np.stack([agent.q_values(np.eye(4, dtype=np.float32)[s]) for s in range(3)])
    assert q[:, 1] == pytest.approx(env.optimal_q(0.99)[:, 1], abs=0.1)


def test_random_shift_moves_the_images_the_network_learns_from():
    from rlcourse.toy_envs import FrameCounterEnv
    from rlcourse.wrappers import FrameStack

    env = FrameStack(FrameCounterEnv(shape=(84, 84), episode_length=30), k=4)

    def run(random_shift):
        seen = []
        config = atari_config(
            learning_starts=8,
            buffer_size=100,
            batch_size=8,
            n_step=2,
            random_shift=random_shift,
            device="cpu",
        )
        agent = DQN(env.observation_space, env.action_space, config)
        forward = agent.q.forward
        agent.q.forward = lambda x: seen.append(x.clone()) or forward(x)
        obs, _ = env.reset(seed=0)
        for _ in range(9):
            next_obs, reward, terminated, truncated, _ = env.step(0)
            agent.observe(obs, 0, reward, next_obs, terminated, truncated)
            obs = next_obs
        assert agent.updates == 1
        return [x for x in seen if x.shape[0] == 8][0]  # the update's batch of observations

    plain, shifted = run(0), run(4)
    assert shifted.shape == plain.shape == (8, 4, 84, 84) and shifted.dtype == torch.uint8
    # Same seeds, so the same stacks were sampled: shifted, their pixels moved.
    moved = [not torch.equal(a, b) for a, b in zip(plain, shifted, strict=True)]
    assert sum(moved) >= 6, "with 81 offsets, few of 8 stacks keep theirs"


def test_observe_trains_every_train_frequency_steps_and_copies_the_target():
    env = ChainEnv(4)
    config = DQNConfig(
        learning_starts=4,
        batch_size=2,
        train_frequency=2,
        gradient_steps=3,
        target_update_interval=5,
        device="cpu",
        hidden_sizes=(8,),
    )
    agent = DQN(env.observation_space, env.action_space, config)
    obs, _ = env.reset(seed=0)
    infos = []
    for _ in range(9):
        next_obs, reward, terminated, truncated, _ = env.step(1)
        infos.append(agent.observe(obs, 1, reward, next_obs, terminated, truncated))
        obs = env.reset()[0] if terminated or truncated else next_obs
        if agent.steps == 5:  # the target net is a copy of the online one right after a copy
            for a, b in zip(agent.q.parameters(), agent.target.parameters(), strict=True):
                assert torch.equal(a, b)
    # updates at steps 4, 6, 8 (>= learning_starts, multiples of train_frequency), 3 each
    assert [i is not None for i in infos] == [
        False,
        False,
        False,
        True,
        False,
        True,
        False,
        True,
        False,
    ]
    assert agent.updates == 9 and agent.steps == 9 and len(agent.buffer) == 9


def test_atari_100k_preset_is_replay_ratio_half_with_the_target_copied_after_each_update():
    config = atari_100k_config(seed=3)
    assert PRESETS["atari100k"] is atari_100k_config and config.seed == 3
    assert config.gradient_steps / config.train_frequency == 0.5
    assert (config.n_step, config.random_shift, config.dueling) == (10, 4, True)
    # Every update happens on a step the target copy follows: at the next update the two
    # nets are one, so Double DQN's choice of network changes nothing.
    assert config.train_frequency % config.target_update_interval == 0 and config.tau == 1.0
    assert config.learning_starts % config.train_frequency == 0


# --- the update's cost: Adam's settings and the forward passes on s' ------------------------


def _frames_agent(**overrides):
    """An atari100k agent (Nature CNN, dueling, Double, 10-step, shift 4) on random frames,
    Kung-Fu's 14 actions, with 60 transitions (a life ending every 20) in its memory."""
    space = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    values = {"device": "cpu", "batch_size": 4, "buffer_size": 100, "learning_starts": 4}
    agent = DQN(space, gym.spaces.Discrete(14), atari_100k_config(**{**values, **overrides}))
    rng = np.random.default_rng(0)
    obs = rng.integers(0, 256, (4, 84, 84), dtype=np.uint8)
    for t in range(60):
        next_obs = np.concatenate([obs[1:], rng.integers(0, 256, (1, 84, 84), dtype=np.uint8)])
        agent.buffer.add(obs, t % 14, float(t % 3 == 0), next_obs, t % 20 == 19, False)
        obs = next_obs
    return agent


def _sample(agent):
    return agent.buffer.sample_n_step(agent.config.batch_size, agent.config.n_step, 0.99)


def test_adam_eps_reaches_the_optimizer_and_defaults_to_torchs():
    env = ChainEnv(3)
    default = DQN(env.observation_space, env.action_space, DQNConfig(device="cpu"))
    assert [group["eps"] for group in default.optimizer.param_groups] == [1e-8]
    assert {preset().adam_eps for preset in PRESETS.values()} == {1e-8}  # runs as before
    config = DQNConfig(adam_eps=1.5e-4, device="cpu", hidden_sizes=(8,))
    agent = DQN(env.observation_space, env.action_space, config)
    assert [group["eps"] for group in agent.optimizer.param_groups] == [1.5e-4]
    payload = agent.checkpoint("Chain", resume={})
    again = DQN(env.observation_space, env.action_space, DQNConfig.from_dict(payload["config"]))
    again.restore(payload)
    assert [group["eps"] for group in again.optimizer.param_groups] == [1.5e-4]


def test_a_larger_adam_eps_takes_smaller_steps_on_small_gradients():
    """Adam's first step is lr * g / (|g| + eps): lr-sized whatever the gradient's size when
    eps is tiny, damped where |g| is below eps."""
    moved = {}
    for eps in (1e-8, 1.0):
        agent = _frames_agent(adam_eps=eps)
        before = torch.cat([p.detach().flatten() for p in agent.q.parameters()])
        agent.update(*_sample(agent))
        after = torch.cat([p.detach().flatten() for p in agent.q.parameters()])
        moved[eps] = (after - before).abs()
    assert moved[1e-8].max().item() == pytest.approx(agent.config.lr, rel=0.01)
    assert moved[1.0].mean() < moved[1e-8].mean() / 10


def test_fused_adam_steps_as_the_for_loop_adam_does():
    fused, plain = _frames_agent(), _frames_agent()
    plain.optimizer = torch.optim.Adam(plain.q.parameters(), lr=plain.config.lr, foreach=False)
    assert fused.optimizer.defaults["fused"] or torch.__version__ < "2.4"  # CPU kernel: 2.4+
    for _ in range(5):  # same weights, memories and generators: the same minibatches
        assert fused.update(*_sample(fused)).loss == pytest.approx(
            plain.update(*_sample(plain)).loss, rel=1e-5
        )
    for a, b in zip(fused.q.parameters(), plain.q.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


def test_make_adam_falls_back_where_torch_has_no_fused_kernel(monkeypatch):
    real_adam = torch.optim.Adam

    def adam(params, fused=None, **kwargs):
        if fused:
            raise RuntimeError("`fused=True` requires all the params to be ... supported devices")
        return real_adam(params, **kwargs)

    monkeypatch.setattr(torch.optim, "Adam", adam)
    optimizer = make_adam(torch.nn.Linear(2, 2), lr=1e-3, eps=1e-6)
    assert not optimizer.defaults["fused"] and optimizer.defaults["eps"] == 1e-6


@pytest.mark.parametrize("double", [True, False])
def test_one_pass_on_s_prime_gives_the_loss_and_gradients_of_two(double):
    agent = _frames_agent(double=double)
    batch, discounts = _sample(agent)
    batch = ReplaySample(*(torch.as_tensor(array) for array in batch))
    results = []
    for target in (agent.target, agent.q):  # a copy of the online net, then the net itself
        agent.q.zero_grad(set_to_none=True)
        loss, q_taken = compute_dqn_loss(
            agent.q, target, batch, torch.as_tensor(discounts), double=double
        )
        loss.backward()
        results.append((loss.detach(), q_taken.detach(), [p.grad for p in agent.q.parameters()]))
    (loss_two, q_two, grads_two), (loss_one, q_one, grads_one) = results
    assert torch.equal(loss_one, loss_two) and torch.equal(q_one, q_two)
    assert all(torch.equal(a, b) for a, b in zip(grads_one, grads_two, strict=True))


def test_update_runs_the_target_net_only_when_it_is_not_a_copy():
    agent = _frames_agent()
    target_passes = []
    agent.target.register_forward_hook(lambda *_: target_passes.append(1))
    agent.update(*_sample(agent))  # a fresh agent: the target is a copy
    assert target_passes == []
    agent.update(*_sample(agent))  # the online net has moved since
    assert len(target_passes) == 1
    update_target_network(agent.target, agent.q, tau=1.0)
    agent.update(*_sample(agent))
    assert len(target_passes) == 1
    with torch.no_grad():  # weights changed behind the agent's back are seen too
        next(agent.target.parameters()).add_(1.0)
    agent.update(*_sample(agent))
    assert len(target_passes) == 2


def test_the_atari_100k_preset_never_runs_its_target_net():
    """Its target is copied after every update, so the online net serves for both."""
    agent = _frames_agent(learning_starts=60)
    agent.steps = 60  # the memory holds 60 transitions: learning has started
    target_passes = []
    agent.target.register_forward_hook(lambda *_: target_passes.append(1))
    rng = np.random.default_rng(1)
    obs = rng.integers(0, 256, (4, 84, 84), dtype=np.uint8)
    for _ in range(6):
        next_obs = np.concatenate([obs[1:], rng.integers(0, 256, (1, 84, 84), dtype=np.uint8)])
        agent.observe(obs, 0, 0.0, next_obs, False, False)
        obs = next_obs
    assert agent.updates == 3 and target_passes == []


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
    train_dqn(agent, env, 4000, progress=False)
    q = np.stack([agent.q_values(np.eye(4, dtype=np.float32)[s]) for s in range(3)])
    assert np.abs(q - env.optimal_q(0.99)).max() < 0.1
    assert all(agent.greedy(np.eye(4, dtype=np.float32)[s]) == 1 for s in range(3))


def test_same_seed_same_agent_and_evaluation_returns():
    scores, weights = [], []
    for _ in range(2):
        env = make_env("CartPole-v1")
        config = DQNConfig(
            seed=3,
            learning_starts=200,
            exploration_steps=1000,
            device="cpu",
            hidden_sizes=(32, 32),
            target_update_interval=100,
        )
        agent = DQN(env.observation_space, env.action_space, config)
        train_dqn(agent, env, 800, progress=False)
        weights.append(agent.q.state_dict())
        scores.append(evaluate(agent.policy(), make_env("CartPole-v1"), 3, seed=100))
    np.testing.assert_array_equal(*scores)
    assert scores[0].min() > 0
    for a, b in zip(weights[0].values(), weights[1].values(), strict=True):
        assert torch.equal(a, b)


def test_policy_is_the_greedy_online_network():
    env = ChainEnv(3)
    agent = DQN(env.observation_space, env.action_space, DQNConfig(device="cpu", seed=2))
    policy = agent.policy()
    assert isinstance(policy, QPolicy) and policy.network is agent.q
    for s in range(3):
        obs = np.eye(3, dtype=np.float32)[s]
        assert policy(obs) == agent.greedy(obs) == agent.act(obs, epsilon=0.0)


# --- replay memory ------------------------------------------------------------------------


def test_a_given_empty_buffer_is_kept():
    """An empty buffer is falsy (len 0): `buffer or default` used to replace it by a
    default 50,000-slot one."""
    env = ChainEnv(3)
    mine = ReplayBuffer(123, (3,), rng=np.random.default_rng(0))
    assert len(mine) == 0 and not mine
    agent = DQN(env.observation_space, env.action_space, DQNConfig(device="cpu"), buffer=mine)
    assert agent.buffer is mine and agent.buffer.capacity == 123
    obs = np.eye(3, dtype=np.float32)
    agent.observe(obs[0], 1, 0.0, obs[1], False, False)
    assert len(mine) == 1


def test_default_buffer_follows_the_config():
    env = ChainEnv(3)
    agent = DQN(env.observation_space, env.action_space, DQNConfig(device="cpu", buffer_size=77))
    assert isinstance(agent.buffer, ReplayBuffer) and agent.buffer.capacity == 77


def test_pixel_dqn_uses_the_nature_cnn_and_the_frame_buffer():
    from rlcourse.networks import NatureCNN

    env = make_env_for("ALE/MsPacman-v5", training=True)
    config = atari_config(learning_starts=40, buffer_size=500, batch_size=4, device="cpu")
    agent = DQN(env.observation_space, env.action_space, config)
    assert isinstance(agent.q, NatureCNN) and isinstance(agent.buffer, AtariReplayBuffer)
    result = train_dqn(agent, env, 60, progress=False)
    assert agent.updates == (60 - 40) // 4 + 1 and result.agent.steps == 60
    eval_env = make_env_for("ALE/MsPacman-v5", training=False)
    score = evaluate(agent.policy(), eval_env, 1, seed=0, max_steps=50)
    assert score[0] >= 0 and float(score[0]).is_integer()


# --- checkpoints ----------------------------------------------------------------------------


def _trained_chain_agent(steps=60, seed=0):
    env = ChainEnv(4)
    config = DQNConfig(
        seed=seed,
        learning_starts=10,
        batch_size=4,
        buffer_size=100,
        target_update_interval=7,
        hidden_sizes=(8,),
        device="cpu",
    )
    agent = DQN(env.observation_space, env.action_space, config)
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    for _ in range(steps):
        action = agent.act(obs)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        agent.observe(obs, action, reward, next_obs, terminated, truncated)
        obs = env.reset(seed=int(rng.integers(100)))[0] if terminated or truncated else next_obs
    return env, agent


def test_checkpoint_and_restore_continue_exactly():
    env, agent = _trained_chain_agent()
    payload = agent.checkpoint("Chain", {"n_states": 4}, resume={"loop": 1})
    assert payload["algo"] == "dqn" and payload["env_id"] == "Chain" and payload["steps"] == 60
    assert {"target", "optimizer", "updates", "buffer", "loop"} <= set(payload["resume"])
    twin = DQN(env.observation_space, env.action_space, agent.config)
    twin.restore(payload)
    assert (twin.steps, twin.updates, len(twin.buffer)) == (agent.steps, agent.updates, 60)
    for net, twin_net in ((agent.q, twin.q), (agent.target, twin.target)):
        for a, b in zip(net.state_dict().values(), twin_net.state_dict().values(), strict=True):
            assert torch.equal(a, b)
    # the same next actions, samples and updates
    obs = np.eye(4, dtype=np.float32)
    assert [agent.act(obs[0]) for _ in range(20)] == [twin.act(obs[0]) for _ in range(20)]
    # a held exploratory action (explore_repeat) resumes where it was
    agent.config.explore_repeat = twin.config.explore_repeat = 5
    agent.explore_action, agent.explore_left = 1, 3
    twin.restore(agent.checkpoint("Chain", {"n_states": 4}, resume={"loop": 1}))
    assert (twin.explore_action, twin.explore_left) == (1, 3)
    assert [twin.act(obs[0]) for _ in range(3)] == [1, 1, 1]
    older = agent.checkpoint("Chain", {"n_states": 4}, resume={"loop": 1})
    del older["resume"]["explore"]  # a resume point from before explore_repeat
    twin.restore(older)
    assert (twin.explore_action, twin.explore_left) == (0, 0)
    for _ in range(3):
        a, b = agent.buffer.sample(4), twin.buffer.sample(4)
        assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
        assert agent.update(a) == twin.update(b)


def test_checkpoint_without_buffer_or_resume():
    _, agent = _trained_chain_agent(steps=20)
    assert "buffer" not in agent.checkpoint("Chain", resume={}, include_buffer=False)["resume"]
    assert "resume" not in agent.checkpoint("Chain")


def test_a_run_resumed_without_its_memory_refills_it_before_learning():
    env, agent = _trained_chain_agent(steps=60)
    twin = DQN(env.observation_space, env.action_space, agent.config)
    twin.restore(agent.checkpoint("Chain", resume={}, include_buffer=False))
    assert len(twin.buffer) == 0 and twin.memory_since == 60
    obs, updates = env.reset(seed=1)[0], twin.updates
    for step in range(1, 13):  # learning_starts=10 fresh transitions, then updates resume
        action = twin.act(obs)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        info = twin.observe(obs, action, reward, next_obs, terminated, truncated)
        assert (info is None) == (step < 10), step
        obs = env.reset(seed=step)[0] if terminated or truncated else next_obs
    assert twin.updates == updates + 3
    # a resume point saved with its (refilling) memory keeps where the memory began
    again = DQN(env.observation_space, env.action_space, agent.config)
    again.restore(twin.checkpoint("Chain", resume={}))
    assert again.memory_since == 60 and len(again.buffer) == 12


def test_restore_refuses_another_network():
    env, agent = _trained_chain_agent(steps=20)
    other = DQN(
        env.observation_space,
        env.action_space,
        dataclasses.replace(agent.config, hidden_sizes=(16,)),
    )
    with pytest.raises(CheckpointError, match="is not this agent's"):
        other.restore(agent.checkpoint("Chain", resume={}))


# --- config ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "error", "message"),
    [
        ("gamma", 1.5, ValueError, r"DQNConfig.gamma must be in \[0, 1\], got 1.5"),
        ("batch_size", 0, ValueError, "DQNConfig.batch_size must be >= 1, got 0"),
        ("batch_size", 2.5, TypeError, r"DQNConfig.batch_size must be an int, got 2.5 \(float\)"),
        ("tau", 0.0, ValueError, r"DQNConfig.tau must be in \(0, 1\], got 0.0"),
        ("lr", 0, ValueError, "DQNConfig.lr must be in \\(0, 3.40282e\\+38\\], got 0"),
        ("adam_eps", 0.0, ValueError, "DQNConfig.adam_eps must be > 0, got 0.0"),
        ("loss", "l1", ValueError, "loss must be 'huber' or 'mse'"),
        ("epsilon_end", -0.1, ValueError, r"DQNConfig.epsilon_end must be in \[0, 1\]"),
        ("max_grad_norm", 0.0, ValueError, "DQNConfig.max_grad_norm must be > 0, got 0.0"),
        ("learning_starts", -1, ValueError, "DQNConfig.learning_starts must be >= 0, got -1"),
        ("batch_size", 100_000, ValueError, "batch_size=100000 exceeds buffer_size=50000"),
        ("n_step", 0, ValueError, "DQNConfig.n_step must be >= 1, got 0"),
        ("random_shift", -1, ValueError, "DQNConfig.random_shift must be >= 0, got -1"),
        ("explore_repeat", 0, ValueError, "DQNConfig.explore_repeat must be >= 1, got 0"),
    ],
)
def test_bad_config_values(field, value, error, message):
    with pytest.raises(error, match=message):
        DQNConfig(**{field: value})


def test_config_allows_no_gradient_clipping():
    assert DQNConfig(max_grad_norm=None).max_grad_norm is None


def test_config_round_trip_and_unknown_fields():
    config = DQNConfig(hidden_sizes=[8, 8], double=True)
    assert config.hidden_sizes == (8, 8)
    assert DQNConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown DQNConfig fields"):
        DQNConfig.from_dict({**dataclasses.asdict(config), "gama": 0.9})


def test_network_rejects_wrong_observation_shapes():
    env = make_env("CartPole-v1")
    agent = DQN(env.observation_space, env.action_space, DQNConfig(device="cpu"))
    with pytest.raises(ValueError, match=r"built for inputs of shape \(batch, 4\), got \(1, 3\)"):
        agent.act(np.zeros(3, np.float32), epsilon=0.0)
