"""One episode runner: every game the course plays outside a training loop is played here.

:func:`play_games` plays one game on each of several envs side by side, with one policy, and
applies the course's rules for a policy with memory (``docs/evaluation.md``): it starts
every game empty, and is zeroed at a lost life when training zeroed it there
(``policy.reset_on_life_loss``); a lost life never ends the game. :func:`evaluate`
(games one by one on one env), :func:`evaluate_batched` (all games side by side) and video
recording (:func:`rlcourse.video.record_episode`) are this runner with different hooks, so
they cannot drift apart. The evaluation protocol built on them, for checkpoints, is
:mod:`rlcourse.evaluation`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np

from rlcourse.config import check_positive_int
from rlcourse.policies import Policy

EVAL_SEED = 10_000
"""First game seed of the evaluations made during training (they select ``best.pt``)."""
TEST_SEED = 50_000
"""First game seed of ``rlcourse evaluate``: games never used in training or selection."""


class Step(NamedTuple):
    """What one step of one game gave, as :func:`play_games` shows it to ``on_step``."""

    reward: float
    """The game's points for this step (as the env gives them: real, unless it clips)."""
    terminated: bool
    """The game ended (game over)."""
    truncated: bool
    """A time limit cut the game."""
    lost_life: bool
    """A life was lost at this step (the game goes on)."""
    info: dict[str, Any]
    """The env's ``info`` for this step."""
    observation: Any = None
    """The observation the action was chosen from."""
    action: Any = None
    """The action played."""


StepHook = Callable[[int, Step], None]
"""``on_step(game, step)``: sees every step of every game."""


class Games(NamedTuple):
    """What :func:`play_games` played, game by game."""

    returns: np.ndarray
    """Sum of each game's rewards (discounted by ``gamma`` when it is below 1)."""
    steps: np.ndarray
    """Agent steps played in each game."""
    terminated: np.ndarray
    """Whether each game ended (rather than being truncated or cut by ``max_steps``)."""


def lost_life(info: dict[str, Any], lives: int | None) -> tuple[bool, int | None]:
    """``(a life was lost at this step, the lives now)`` from a step's ``info`` and the lives
    before it (None: not known yet). Games without lives never lose one.

    >>> lost_life({"lives": 2}, 3), lost_life({"lives": 3}, None), lost_life({}, None)
    ((True, 2), (False, 3), (False, None))
    """
    now = info.get("lives")
    if now is None:
        return False, lives
    now = int(np.asarray(now))
    return lives is not None and now < lives, now


def play_games(
    policy: Policy | Callable[[Any], Any],
    envs: Sequence[gym.Env],
    seeds: Sequence[int | None],
    *,
    batched: bool = True,
    max_steps: int | None = None,
    gamma: float = 1.0,
    on_step: StepHook | None = None,
    on_reset: Callable[[int], None] | None = None,
) -> Games:
    """Play one game on each of ``envs`` side by side, game ``i`` from
    ``envs[i].reset(seed=seeds[i])``, until every game ends or ``max_steps`` agent steps.

    ``batched=True``: one ``policy.act_batch(observations, games)`` call a step for the
    games still playing (one forward pass: fast for a network, and a recurrent policy keeps
    one memory per game). ``batched=False``: ``policy(observation)`` for each game, which
    any function of an observation can be. ``policy.reset(len(envs))`` starts the games, if
    the policy has memory; ``on_reset(game)`` runs after each game's reset, ``on_step(game,
    step)`` after each of its steps. ``gamma < 1`` discounts the returns.

    >>> from rlcourse.policies import RandomPolicy
    >>> envs = [gym.make("CartPole-v1") for _ in range(2)]
    >>> games = play_games(RandomPolicy(envs[0].action_space, seed=0), envs, [0, 1])
    >>> games.returns.shape, bool(games.terminated.all())
    ((2,), True)
    >>> games.steps.tolist() == games.returns.tolist()  # CartPole: 1 point a step
    True
    """
    if len(envs) != len(seeds):
        raise ValueError(f"one seed per env: got {len(envs)} envs and {len(seeds)} seeds")
    n_games = len(envs)
    reset = getattr(policy, "reset", None)
    if reset is not None:
        reset(n_games)
    reset_game = getattr(policy, "reset_game", None)
    lives_reset = bool(getattr(policy, "reset_on_life_loss", False)) and reset_game is not None
    observations: list[Any] = []
    lives: list[int | None] = []
    for game, (env, seed) in enumerate(zip(envs, seeds, strict=True)):
        obs, info = env.reset(seed=seed)
        observations.append(obs)
        lives.append(lost_life(info, None)[1])
        if on_reset is not None:
            on_reset(game)
    returns = np.zeros(n_games)
    steps = np.zeros(n_games, np.int64)
    ended = np.zeros(n_games, bool)
    terminated_games = np.zeros(n_games, bool)
    step = 0
    while not ended.all() and (max_steps is None or step < max_steps):
        games = np.flatnonzero(~ended)
        if batched:
            batch = np.stack([observations[g] for g in games])
            chosen = policy.act_batch(batch, games)  # type: ignore[union-attr]
            actions: list[Any] = np.asarray(chosen).tolist()
        else:
            actions = [policy(observations[g]) for g in games]
        for game, action in zip(games.tolist(), actions, strict=True):
            obs, reward, terminated, truncated, info = envs[game].step(action)
            seen = observations[game]
            observations[game] = obs
            returns[game] += gamma ** int(steps[game]) * float(reward)
            steps[game] += 1
            ended[game] = terminated or truncated
            terminated_games[game] = terminated
            lost, lives[game] = lost_life(info, lives[game])
            if lost and lives_reset:
                reset_game(game)  # type: ignore[misc]
            if on_step is not None:
                on_step(
                    game,
                    Step(
                        float(reward), bool(terminated), bool(truncated), lost, info, seen, action
                    ),
                )
        step += 1
    return Games(returns, steps, terminated_games)


def evaluate(
    policy: Policy | Callable[[Any], Any],
    env: gym.Env,
    episodes: int,
    seed: int = EVAL_SEED,
    *,
    max_steps: int | None = None,
    gamma: float = 1.0,
) -> np.ndarray:
    """Returns of ``episodes`` episodes of ``policy(obs) -> action`` on ``env``, one by one.

    ``gamma < 1`` gives discounted returns ``sum_t gamma^t r_t`` (what a value network
    predicts). See the module's rules for seeds, memory and step limits.

    >>> from rlcourse.policies import RandomPolicy
    >>> env = gym.make("CartPole-v1")
    >>> scores = evaluate(RandomPolicy(env.action_space, seed=0), env, episodes=3, seed=0)
    >>> scores.shape, bool((scores > 0).all())
    ((3,), True)
    """
    episodes = check_positive_int("episodes", episodes)
    returns = np.zeros(episodes)
    for episode in range(episodes):
        games = play_games(
            policy, [env], [seed + episode], batched=False, max_steps=max_steps, gamma=gamma
        )
        returns[episode] = games.returns[0]
    return returns


def evaluate_batched(
    policy: Policy,
    make_env: Callable[[], gym.Env],
    episodes: int,
    seed: int = EVAL_SEED,
    *,
    max_steps: int | None = None,
    on_step: StepHook | None = None,
) -> np.ndarray:
    """Like :func:`evaluate`, but all ``episodes`` games side by side, one batched forward
    pass per step (``policy.act_batch``): much faster for a recurrent network.

    ``make_env()`` makes one game. Same seeds and rules as :func:`evaluate`. ``on_step(game,
    step)`` sees every :class:`~rlcourse.episodes.Step` of every game (e.g.
    :class:`~rlcourse.evaluation.InfoMaxima` records how far Mario got,
    :class:`~rlcourse.value_bias.ValueBiasRecorder` the Q-values and returns).
    """
    episodes = check_positive_int("episodes", episodes)
    if not callable(make_env):
        raise TypeError(f"make_env must be a function that makes one env, got {make_env!r}")
    envs = [make_env() for _ in range(episodes)]
    try:
        seeds = [seed + game for game in range(episodes)]
        return play_games(policy, envs, seeds, max_steps=max_steps, on_step=on_step).returns
    finally:
        for env in envs:
            env.close()
