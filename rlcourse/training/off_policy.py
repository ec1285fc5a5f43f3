"""The off-policy loop: one agent, one env, a replay memory (DQN and its variants).

Read top to bottom, one env step per iteration: act, step, store and learn
(:meth:`~rlcourse.agents.dqn.DQN.observe`), log the episode when it ends, evaluate and
checkpoint when due. Everything it writes goes through the :class:`~.harness.Run`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import gymnasium as gym

from rlcourse.agents.dqn import DQN
from rlcourse.evaluation import EVAL_SEED, evaluate
from rlcourse.metrics import MetricLogger
from rlcourse.resume import ReplayableGame
from rlcourse.training.harness import Run


class TrainResult(NamedTuple):
    """What a training run returns (both loops)."""

    agent: Any
    """The trained agent."""
    evaluations: list[tuple[int, float, float]]
    """``(step, mean, std)`` of each evaluation."""
    solved_at_step: int | None
    """First step at which an evaluation reached ``solve_score`` (None if never)."""
    metrics: MetricLogger
    """Per-episode return, length, loss, ... with moving averages: ``.plot()``."""
    interrupted: bool
    """True when Ctrl-C stopped the run (a resume point was written)."""
    wall_seconds: float
    """Training time, evaluations excluded."""


def train_dqn(
    agent: DQN,
    env: gym.Env,
    total_steps: int,
    *,
    env_id: str | None = None,
    env_options: dict[str, Any] | None = None,
    eval_env: gym.Env | None = None,
    eval_every: int | None = None,
    eval_episodes: int = 10,
    solve_score: float | None = None,
    out_dir: str | Path | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    max_minutes: float | None = None,
    progress: bool = True,
    live_plot: bool = False,
    save_buffer: bool = True,
    metrics_window: int = 100,
    on_step: Callable[[DQN], Any] | None = None,
) -> TrainResult:
    """Train ``agent`` on ``env`` until it has taken ``total_steps`` env steps.

    Episode ``i`` starts from ``env.reset(seed=config.seed + i)``. Every ``eval_every``
    steps the greedy policy plays ``eval_episodes`` episodes of ``eval_env`` (seeds from
    :data:`~rlcourse.evaluation.EVAL_SEED`); with ``solve_score`` training stops at the first
    evaluation whose mean reaches it. ``out_dir``: the run directory (see
    :mod:`rlcourse.training.harness`), with a resume point every ``checkpoint_every``
    steps; ``resume=True`` continues from it exactly (``save_buffer=False`` leaves the replay
    memory out of resume points: a resumed run then refills ``learning_starts`` transitions
    before it learns again). ``max_minutes``: stop after this much training time
    (evaluations excluded; earlier sessions of a resumed run count).
    ``env_options``: how ``env`` was made beyond its id (saved so
    :func:`rlcourse.envs.env_for_checkpoint` remakes it).
    ``on_step(agent)`` is called after every step (studies measure the agent with it).
    """
    if eval_every is not None and eval_env is None:
        raise ValueError("eval_every is set but no eval_env was given to evaluate on")
    env_id = env_id or (env.spec.id if env.spec else "unknown")
    config = agent.config
    run = Run(
        algo="dqn", env_id=env_id, env_options=env_options, config=config,
        total_steps=total_steps, out_dir=out_dir, resume=resume, eval_every=eval_every,
        eval_episodes=eval_episodes, checkpoint_every=checkpoint_every, progress=progress,
        live_plot=live_plot, live_metrics=("episode_return", "loss", "epsilon"),
        metrics_window=metrics_window,
    )  # fmt: skip
    game = env if isinstance(env, ReplayableGame) else ReplayableGame(env)

    def checkpoint(resume_point: bool = False) -> dict[str, Any]:
        loop = {"run": run.run_state(), "game": game.game_log()} if resume_point else None
        return agent.checkpoint(env_id, env_options, resume=loop, include_buffer=save_buffer)

    if run.resume_payload is not None:
        agent.restore(run.resume_payload)
        obs, _ = game.replay(run.resume_payload["resume"]["game"])
    else:
        obs, _ = game.reset(seed=config.seed + run.episodes)

    def out_of_time() -> bool:
        return max_minutes is not None and run.training_time() >= max_minutes * 60

    solved_at = None
    with run.interruptible():
        while agent.steps < total_steps and not run.interrupted and not out_of_time():
            action = agent.act(obs)
            next_obs, reward, terminated, truncated, _ = game.step(action)
            # The transition keeps both flags: only `terminated` cuts the TD bootstrap.
            info = agent.observe(obs, action, float(reward), next_obs, terminated, truncated)
            run.metrics.log_step(reward, info.loss if info else None, info.q_mean if info else None)
            run.advance(1)
            obs = next_obs
            if terminated or truncated:
                run.log_episode(agent.steps, epsilon=agent.epsilon)
                obs, _ = game.reset(seed=config.seed + run.episodes)
            if run.evaluation_due(agent.steps - 1, agent.steps):
                run.pause_clock()
                scores = evaluate(agent.policy(), eval_env, eval_episodes, seed=EVAL_SEED)
                run.log_evaluation(agent.steps, scores, checkpoint)
                run.resume_clock()
                if solve_score is not None and scores.mean() >= solve_score:
                    solved_at = agent.steps
            if run.checkpoint_due(agent.steps - 1, agent.steps):
                run.save_resume_point(checkpoint(resume_point=True))
            if on_step is not None:
                on_step(agent)
            if solved_at is not None:
                break
        if run.interrupted:
            run.save_resume_point(checkpoint(resume_point=True))
    run.pause_clock()
    run.finish(None if run.interrupted else checkpoint())
    return TrainResult(agent, run.metrics.evaluations, solved_at, run.metrics, run.interrupted,
                       run.wall_seconds)  # fmt: skip
