"""One way to score an agent, for every algorithm of the course.

The rules (the course's evaluation protocol, ``shared/DESIGN.md``):

* an evaluation plays whole episodes; for Atari games the env is made with
  ``training=False``: whole games (no episodic life), real scores (no reward clipping);
* episode ``i`` starts from ``env.reset(seed=seed + i)``: the same seed, the same games;
* a policy with memory starts every episode with an empty one; if its training zeroed the
  memory at each lost life (``policy.reset_on_life_loss``), evaluation does the same. A lost
  life never ends the episode: the score is the whole game's;
* a game still running after ``max_steps`` agent steps counts with its score so far.

Training runs evaluate on seeds from :data:`EVAL_SEED` (checkpoint selection); reported
scores use other, fresh seeds: ``rlcourse evaluate CHECKPOINT --seed S`` with S from
:data:`TEST_SEED` by default.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import gymnasium as gym
import numpy as np

from rlcourse.errors import WrongAgentError

if TYPE_CHECKING:
    from rlcourse.overestimation import ValueBias

EVAL_SEED = 10_000
"""First game seed of the evaluations made during training (they select ``best.pt``)."""
TEST_SEED = 50_000
"""First game seed of ``rlcourse evaluate``: games never used in training or selection."""


class Step(NamedTuple):
    """What one step of one game gave, as :func:`evaluate_batched` shows it to ``on_step``."""

    reward: float
    """The game's points for this step (real, not clipped)."""
    terminated: bool
    """The game ended (game over)."""
    truncated: bool
    """A time limit cut the game."""
    lost_life: bool
    """A life was lost at this step (the game goes on)."""
    info: dict[str, Any]
    """The env's ``info`` for this step."""


def _check_episodes(episodes: object) -> int:
    from rlcourse.config import check_positive_int

    return check_positive_int("episodes", episodes)


def lost_life(info: dict[str, Any], lives: int | None) -> tuple[bool, int | None]:
    """``(a life was lost at this step, the lives now)`` from a step's ``info`` and the lives
    before it (None: not known yet). Games without lives never lose one."""
    now = info.get("lives")
    if now is None:
        return False, lives
    now = int(np.asarray(now))
    return lives is not None and now < lives, now


def evaluate(
    policy: Callable[[Any], Any],
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
    episodes = _check_episodes(episodes)
    returns = np.zeros(episodes)
    reset = getattr(policy, "reset", None)
    reset_game = getattr(policy, "reset_game", None)
    lives_reset = bool(getattr(policy, "reset_on_life_loss", False))
    for episode in range(episodes):
        obs, info = env.reset(seed=seed + episode)
        if reset is not None:
            reset(1)
        lives = None
        _, lives = lost_life(info, lives)
        done, steps = False, 0
        while not done and (max_steps is None or steps < max_steps):
            obs, reward, terminated, truncated, info = env.step(policy(obs))
            returns[episode] += gamma**steps * float(reward)
            done = terminated or truncated
            steps += 1
            lost, lives = lost_life(info, lives)
            if lost and lives_reset and reset_game is not None:
                reset_game(0)
    return returns


def evaluate_batched(
    policy: Any,
    make_env: Callable[[], gym.Env],
    episodes: int,
    seed: int = EVAL_SEED,
    *,
    max_steps: int | None = None,
    on_step: Callable[[int, Step], None] | None = None,
) -> np.ndarray:
    """Like :func:`evaluate`, but all ``episodes`` games side by side, one batched forward
    pass per step (``policy.act_batch``): much faster for a recurrent network.

    ``make_env()`` makes one game. Same seeds and rules as :func:`evaluate`. ``on_step(game,
    step)`` sees every :class:`Step` of every game (e.g. :class:`InfoMaxima` records how far
    Mario got, :class:`~rlcourse.overestimation.ValueBiasRecorder` the returns).
    """
    episodes = _check_episodes(episodes)
    if not callable(make_env):
        raise TypeError(f"make_env must be a function that makes one env, got {make_env!r}")
    envs = [make_env() for _ in range(episodes)]
    try:
        policy.reset(episodes)
        lives_reset = bool(getattr(policy, "reset_on_life_loss", False))
        first = [env.reset(seed=seed + i) for i, env in enumerate(envs)]
        observations = np.stack([obs for obs, _ in first])
        lives: list[int | None] = [lost_life(info, None)[1] for _, info in first]
        scores = np.zeros(episodes)
        playing = np.ones(episodes, bool)
        steps = 0
        while playing.any() and (max_steps is None or steps < max_steps):
            games = np.flatnonzero(playing)
            actions = policy.act_batch(observations[games], games)
            for game, action in zip(games, np.asarray(actions).tolist(), strict=True):
                obs, reward, terminated, truncated, info = envs[game].step(action)
                observations[game] = obs
                scores[game] += float(reward)
                playing[game] = not (terminated or truncated)
                lost, lives[game] = lost_life(info, lives[game])
                if lost and lives_reset:
                    policy.reset_game(game)
                if on_step is not None:
                    on_step(game, Step(float(reward), bool(terminated), bool(truncated), lost,
                                       info))  # fmt: skip
            steps += 1
        return scores
    finally:
        for env in envs:
            env.close()


def format_score(scores: Sequence[float] | np.ndarray, unit: str = "games") -> str:
    """``"MEAN +- STD over N games"``, the form every score of the course is printed in.

    >>> format_score([10.0, 20.0])
    '15.0 +- 5.0 over 2 games'
    """
    scores = np.asarray(scores, dtype=np.float64)
    return f"{scores.mean():.1f} +- {scores.std():.1f} over {len(scores)} {unit}"


class InfoMaxima:
    """The largest value each of ``keys`` took in a game's step infos, game by game: an
    ``on_step`` for :func:`evaluate_batched`. Games whose infos never had a key get NaN.

    >>> maxima = InfoMaxima(("x_pos", "flag_get"), games=2)
    >>> for game, x_pos in [(0, 40), (0, 300), (0, 120), (1, 90)]:
    ...     maxima(game, Step(0.0, False, False, False, {"x_pos": x_pos, "flag_get": False}))
    >>> maxima.values["x_pos"].tolist(), maxima.values["flag_get"].tolist()
    ([300.0, 90.0], [0.0, 0.0])
    """

    def __init__(self, keys: Sequence[str], games: int) -> None:
        self.values = {key: np.full(games, np.nan) for key in keys}

    def __call__(self, game: int, step: Step) -> None:
        for key, values in self.values.items():
            if key in step.info:
                values[game] = np.fmax(values[game], float(np.asarray(step.info[key])))


PROGRESS_KEYS = {"nes_mario": ("x_pos", "flag_get")}
"""Step-info keys that say how far an agent got, by game family: NES Super Mario's
``x_pos`` (the distance reached, in pixels from the stage's start) and ``flag_get`` (1 once
the flag is reached)."""


class CheckpointScores(NamedTuple):
    """What :func:`evaluate_checkpoint` measured."""

    scores: np.ndarray
    """The agent's score in each game."""
    random_scores: np.ndarray | None
    """Random play's score in the same games with the same actions (``vs_random``)."""
    rule: str
    """How the agent chose its actions, in words."""
    progress: dict[str, np.ndarray] | None = None
    """For games where a score is not the whole story (:data:`PROGRESS_KEYS`: NES Super
    Mario), each game's maximum of those step-info values (``x_pos``: distance reached,
    ``flag_get``: 1 if the flag was reached), else None."""
    random_progress: dict[str, np.ndarray] | None = None
    """The same for random play (``vs_random``)."""
    value_bias: ValueBias | None = None
    """DQN agents, with ``value_bias``: the Q-values it predicted in these games against the
    discounted returns that followed (:mod:`rlcourse.overestimation`), else None."""


def format_progress(progress: dict[str, np.ndarray]) -> str:
    """``progress`` of :class:`CheckpointScores` in words.

    >>> format_progress({"x_pos": np.array([300.0, 900.0]), "flag_get": np.array([0.0, 1.0])})
    'distance reached (x_pos): 600.0 +- 300.0 over 2 games, furthest 900; flags: 1 of 2'
    """
    parts = []
    if "x_pos" in progress:
        x_pos = progress["x_pos"]
        parts.append(f"distance reached (x_pos): {format_score(x_pos)}, "
                     f"furthest {np.nanmax(x_pos):.0f}")  # fmt: skip
    if "flag_get" in progress:
        flags = progress["flag_get"]
        parts.append(f"flags: {int(np.nansum(flags > 0))} of {len(flags)}")
    return "; ".join(parts)


def evaluate_checkpoint(
    checkpoint: str | Any,
    episodes: int = 20,
    seed: int = TEST_SEED,
    *,
    epsilon: float = 0.05,
    max_steps: int | None = None,
    vs_random: bool = False,
    value_bias: bool = False,
    on_step: Callable[[int, Step], None] | None = None,
) -> CheckpointScores:
    """The course's evaluation protocol, written once: ``rlcourse evaluate`` and the lessons
    both call it, so a lesson's quoted score is the command's.

    ``episodes`` whole games (the checkpoint's env with ``training=False``) seeded ``seed``,
    ``seed + 1``, ...; a DQN agent plays epsilon-greedy (``epsilon``, 0.05 as in the Nature
    paper), an actor-critic or REINFORCE agent samples from its policy (what it learned);
    the draws restart from ``seed``. With
    ``vs_random``, random play on the same games with the same action set. For NES Super
    Mario the distance reached and the flags too (``progress``). With ``value_bias`` (DQN
    agents), the overestimation in the same games, read while they are played
    (:class:`~rlcourse.overestimation.ValueBiasRecorder`: the same draws, the same scores).
    ``on_step(game, step)`` sees every :class:`Step` of the agent's games (not random
    play's), e.g. to split them into lives.
    ``checkpoint``: a path, or a policy from :func:`rlcourse.checkpoints.load_agent`.
    """
    from rlcourse.checkpoints import load_agent
    from rlcourse.config import check_number
    from rlcourse.envs import env_for_checkpoint, is_nes_mario
    from rlcourse.policies import QPolicy, RandomPolicy

    check_number("epsilon", epsilon, low=0, high=1)
    policy = checkpoint if hasattr(checkpoint, "checkpoint") else load_agent(checkpoint)
    policy.reseed(seed)  # the same call, the same games and the same draws
    if isinstance(policy, QPolicy):
        policy.epsilon = epsilon
        rule = f"epsilon {epsilon:g}"
    else:
        rule = "actions sampled from the policy"

    def make_env() -> gym.Env:
        return env_for_checkpoint(policy)

    recorder = None
    if value_bias:
        from rlcourse.overestimation import ValueBiasRecorder

        if not isinstance(policy, QPolicy):
            raise WrongAgentError(
                f"the value bias reads Q-values: it needs a DQN checkpoint, and this one "
                f"holds a {policy.checkpoint.algo.upper()} agent"
            )
        recorder = ValueBiasRecorder.for_checkpoint(policy, episodes)
    keys = PROGRESS_KEYS["nes_mario"] if is_nes_mario(policy.checkpoint.env_id) else ()

    Progress = dict[str, np.ndarray] | None

    def play(player: Any, *hooks: Callable[[int, Step], None]) -> tuple[np.ndarray, Progress]:
        maxima = InfoMaxima(keys, episodes)
        hooks = (maxima, *hooks) if keys else hooks

        def on_step(game: int, step: Step) -> None:
            for hook in hooks:
                hook(game, step)

        scores = evaluate_batched(player, make_env, episodes, seed, max_steps=max_steps,
                                  on_step=on_step if hooks else None)  # fmt: skip
        return scores, maxima.values if keys else None

    # The recorder plays the agent's actions (same draws) and reads what follows them.
    agent_hooks = tuple(hook for hook in (recorder, on_step) if hook is not None)
    scores, progress = play(recorder or policy, *agent_hooks)
    random_scores = random_progress = None
    if vs_random:
        random_scores, random_progress = play(RandomPolicy(make_env().action_space, seed=seed))
    bias = recorder.result() if recorder else None
    return CheckpointScores(scores, random_scores, rule, progress, random_progress, bias)
