"""The Monte-Carlo policy-gradient loop: whole episodes, then one gradient step (REINFORCE).

Read top to bottom, one batch per iteration: the agent plays ``episodes_per_update`` whole
episodes with its current policy, learns from them once, the episodes are logged, and
evaluation and checkpoints follow when due. Everything it writes goes through the
:class:`~.harness.Run`.

Resume points fall between batches, where no episode is in progress: the agent (weights,
optimizer, the generator that samples its actions) and the harness's counters are all
there is to save, and episode ``i`` always starts from ``env.reset(seed=config.seed + i)``.
A resumed run ends bit for bit where an uninterrupted one does.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from rlcourse.agents.reinforce import Episode, Reinforce
from rlcourse.envs import make_env_for
from rlcourse.episodes import EVAL_SEED, evaluate_batched
from rlcourse.training.harness import Prepared, Run, TrainRequest, TrainResult

STAT_COLUMNS = ("loss", "policy_loss", "value_loss", "entropy", "grad_norm")


def play_episode(agent: Reinforce, env: gym.Env, seed: int) -> Episode:
    """One whole episode of ``env`` (reset with ``seed``) with the agent's sampled actions."""
    obs, _ = env.reset(seed=seed)
    observations, actions, rewards = [], [], []
    while True:
        action = agent.act(obs)
        observations.append(obs)
        actions.append(action)
        obs, reward, terminated, truncated, _ = env.step(action)
        rewards.append(float(reward))
        if terminated or truncated:
            return Episode(
                np.asarray(observations, dtype=np.float32),
                np.asarray(actions, dtype=np.int64),
                np.asarray(rewards, dtype=np.float32),
                bool(truncated and not terminated),
            )


def train_reinforce(
    agent: Reinforce,
    env: gym.Env,
    total_steps: int,
    *,
    env_id: str | None = None,
    env_options: dict[str, Any] | None = None,
    eval_every: int | None = None,
    eval_episodes: int = 10,
    solve_score: float | None = None,
    out_dir: str | Path | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    max_minutes: float | None = None,
    progress: bool = True,
    live_plot: bool = False,
    metrics_window: int = 100,
) -> TrainResult:
    """Train ``agent`` on ``env`` until it has taken ``total_steps`` env steps (the batch
    that reaches it is finished: whole episodes only), or ``max_minutes`` of training
    (evaluations excluded), whichever comes first.

    Episode ``i`` starts from ``env.reset(seed=config.seed + i)``. Every ``eval_every``
    steps (checked after each update) the policy plays ``eval_episodes`` episodes of the
    env made with ``training=False``, sampling its actions (seeds from
    :data:`~rlcourse.evaluation.EVAL_SEED`); with ``solve_score`` training stops at the
    first evaluation whose mean reaches it. A row is logged per episode, with the loss
    pieces of the update that learned from it. ``out_dir``, ``checkpoint_every`` and
    ``resume``: see :mod:`rlcourse.training.harness` (resuming is exact).
    """
    env_id = env_id or (env.spec.id if env.spec else "unknown")
    env_options = dict(env_options or {})
    config = agent.config
    run = Run(
        algo="reinforce",
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
        live_metrics=("episode_return", "entropy"),
        metrics_window=metrics_window,
        max_minutes=max_minutes,
        solve_score=solve_score,
    )
    make_evaluation_game = functools.partial(make_env_for, env_id, training=False, **env_options)
    if run.resume_payload is not None:
        agent.restore(run.resume_payload)

    def checkpoint(resume_point: bool = False) -> dict[str, Any]:
        loop = {"run": run.run_state()} if resume_point else None
        return agent.checkpoint(env_id, env_options, resume=loop)

    with run.interruptible():
        while run.running(agent.steps):
            before = agent.steps
            first = run.episodes
            batch = [
                play_episode(agent, env, config.seed + first + i)
                for i in range(config.episodes_per_update)
            ]
            stats = agent.update(batch)
            run.advance(agent.steps - before)
            step = before
            for episode in batch:
                step += len(episode.actions)
                run.log_episode(
                    step,
                    episode_return=float(episode.rewards.sum()),
                    episode_length=len(episode.actions),
                    **{key: stats[key] for key in STAT_COLUMNS},
                )
            if run.evaluation_due(before, agent.steps):
                play = functools.partial(
                    evaluate_batched,
                    agent.policy(seed=EVAL_SEED),
                    make_evaluation_game,
                    eval_episodes,
                    seed=EVAL_SEED,
                )
                run.evaluate(agent.steps, play, checkpoint)
            if run.checkpoint_due(before, agent.steps):
                run.save_resume_point(checkpoint(resume_point=True))
        return run.end(agent, checkpoint)


def flat_discrete(env_id: str, env: gym.Env) -> tuple[int, int]:
    """``(obs_dim, n_actions)`` of an env with flat observations and discrete actions (what
    REINFORCE's MLP policy takes), or a ValueError saying why not."""
    obs_space, action_space = env.observation_space, env.action_space
    if not isinstance(action_space, gym.spaces.Discrete):
        raise ValueError(f"REINFORCE here needs discrete actions; {env_id} has {action_space}")
    if not isinstance(obs_space, gym.spaces.Box) or len(obs_space.shape) != 1:
        raise ValueError(
            f"REINFORCE here needs flat vector observations (an MLP policy); {env_id} gives "
            f"{obs_space}: use an env such as CartPole-v1 or Acrobot-v1"
        )
    return int(obs_space.shape[0]), int(action_space.n)


def prepare_reinforce(request: TrainRequest) -> Prepared:
    """The agent and game of a :class:`~.harness.TrainRequest` (flat observations, discrete
    actions)."""
    env = make_env_for(request.env_id, training=True)
    agent = Reinforce(*flat_discrete(request.env_id, env), request.config)

    def train() -> TrainResult:
        return train_reinforce(
            agent,
            env,
            request.total_steps,
            solve_score=request.solve_score,
            **request.loop_options(),
        )

    return Prepared(agent, train)
