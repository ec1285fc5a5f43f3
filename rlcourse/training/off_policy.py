"""The off-policy loop: one agent, one env, a replay memory (DQN and its variants).

Read top to bottom, one env step per iteration: act, step, store and learn
(:meth:`~rlcourse.agents.dqn.DQN.observe`), log the episode when it ends, evaluate and
checkpoint when due. Everything it writes goes through the :class:`~.harness.Run`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import gymnasium as gym

from rlcourse.agents.dqn import DQN
from rlcourse.envs import make_env_for
from rlcourse.episodes import EVAL_SEED, evaluate
from rlcourse.resume import ResumableGame
from rlcourse.training.harness import Prepared, Run, TrainRequest, TrainResult


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
        algo="dqn",
        env_id=env_id,
        env_options=env_options,
        config=config,
        total_steps=total_steps,
        out_dir=out_dir,
        resume=resume,
        eval_every=eval_every,
        eval_episodes=eval_episodes,
        checkpoint_every=checkpoint_every,
        progress=progress,
        live_plot=live_plot,
        live_metrics=("episode_return", "loss", "epsilon"),
        metrics_window=metrics_window,
        max_minutes=max_minutes,
        solve_score=solve_score,
    )
    game = env if isinstance(env, ResumableGame) else ResumableGame(env)

    def checkpoint(resume_point: bool = False) -> dict[str, Any]:
        loop = {"run": run.run_state(), "game": game.game_log()} if resume_point else None
        return agent.checkpoint(env_id, env_options, resume=loop, include_buffer=save_buffer)

    if run.resume_payload is not None:
        agent.restore(run.resume_payload)
        obs, _ = game.restore(run.resume_payload["resume"]["game"])
    else:
        obs, _ = game.reset(seed=config.seed + run.episodes)

    with run.interruptible():
        while run.running(agent.steps):
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
                assert eval_env is not None  # checked at the start
                play = partial(evaluate, agent.policy(), eval_env, eval_episodes, seed=EVAL_SEED)
                run.evaluate(agent.steps, play, checkpoint)
            if run.checkpoint_due(agent.steps - 1, agent.steps):
                run.save_resume_point(checkpoint(resume_point=True))
            if on_step is not None:
                on_step(agent)
        return run.end(agent, checkpoint)


def prepare_dqn(request: TrainRequest) -> Prepared:
    """The agent and games of a :class:`~.harness.TrainRequest`: the env made for training,
    another for the evaluations (whole games, real scores), the agent sized to them."""
    options = request.env_options
    env = make_env_for(request.env_id, training=True, **options)
    eval_env = make_env_for(request.env_id, training=False, **options)
    agent = DQN(env.observation_space, env.action_space, request.config)

    def train() -> TrainResult:
        return train_dqn(
            agent,
            env,
            request.total_steps,
            env_options=options,
            eval_env=eval_env if request.eval_every else None,
            solve_score=request.solve_score,
            save_buffer=request.save_buffer,
            **request.loop_options(),
        )

    return Prepared(agent, train)
