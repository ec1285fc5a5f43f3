"""The on-policy loop: parallel games, a rollout, learn from it, repeat (A2C and PPO).

Read top to bottom, one rollout per iteration: the pool plays ``rollout_length`` steps in
each of ``n_games`` games, the agent learns from them (A2C: one gradient step; PPO: epochs
of minibatches), finished games are logged, and evaluation and checkpoints follow when due.
Everything it writes goes through the :class:`~.harness.Run`.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from rlcourse.agents.a2c import A2C
from rlcourse.agents.ppo import PPO
from rlcourse.envs import GameSpec, is_atari, make_env_for
from rlcourse.episodes import EVAL_SEED, evaluate_batched
from rlcourse.rollouts import ParallelGames
from rlcourse.training.harness import Prepared, Run, TrainRequest, TrainResult

KUNGFU = "ALE/KungFuMaster-v5"
STAT_COLUMNS = ("loss", "policy_loss", "value_loss", "entropy", "grad_norm")


def train_on_policy(
    agent: A2C | PPO,
    total_steps: int,
    *,
    env_id: str = KUNGFU,
    eval_every: int | None = None,
    eval_episodes: int = 8,
    eval_max_steps: int | None = 20_000,
    out_dir: str | Path | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    max_minutes: float | None = None,
    progress: bool = True,
    live_plot: bool = False,
    metrics_window: int = 100,
) -> TrainResult:
    """Train ``agent`` until ``total_steps`` agent steps (summed over the games), or
    ``max_minutes`` of training (evaluations excluded), whichever comes first.

    The games are ``env_id`` made with the agent's config (``config.env_options()``); the
    pool seeds them ``config.seed``, ``config.seed + 1``, ... Every ``eval_every`` steps
    the policy plays ``eval_episodes`` whole games side by side (seeds from
    :data:`~rlcourse.evaluation.EVAL_SEED`, at most ``eval_max_steps`` steps each). A row is
    logged per finished training game, with the loss pieces averaged over the updates since
    the previous row. ``out_dir``, ``checkpoint_every`` and ``resume``: see
    :mod:`rlcourse.training.harness` (resuming is exact).
    """
    config = agent.config
    env_options = config.env_options()
    run = Run(
        algo=agent.algo,
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
    )
    make_training_game = GameSpec(env_id, training=True, options=env_options)
    make_evaluation_game = GameSpec(env_id, training=False, options=env_options)
    pool = ParallelGames(
        agent.network,
        make_training_game,
        config.n_games,
        seed=config.seed,
        vectorization=config.vectorization,
        env_threads=config.env_threads,
    )
    sums = dict.fromkeys(STAT_COLUMNS, 0.0)
    updates_since_row, logged_games = 0, 0
    if run.resume_payload is not None:
        agent.restore(run.resume_payload)
        saved = run.resume_payload["resume"]
        pool.restore(saved["pool"])
        if not pool.restorable:
            print(
                "resumed: the C++ games (vectorization='ale') cannot be replayed, so the "
                "unfinished games restart; the run goes on, but not bit for bit"
            )
        sums = {key: float(saved["stats"][key]) for key in STAT_COLUMNS}
        updates_since_row, logged_games = int(saved["updates_since_row"]), int(saved["logged"])

    def checkpoint(resume_point: bool = False) -> dict[str, Any]:
        loop = None
        if resume_point:
            loop = {
                "run": run.run_state(),
                "pool": pool.state(),
                "stats": dict(sums),
                "updates_since_row": updates_since_row,
                "logged": logged_games,
            }
        return agent.checkpoint(env_id, env_options, resume=loop)

    try:
        with run.interruptible():
            while run.running(agent.steps):
                before = agent.steps
                rollout = pool.interact(config.rollout_length)
                stats = agent.update(rollout)
                run.advance(agent.steps - before)
                for key in STAT_COLUMNS:
                    sums[key] += stats[key]
                updates_since_row += 1
                # One row per game finished (whole games, also when lives end episodes),
                # with the loss pieces averaged over the updates since the last row.
                finished = pool.finished_returns[logged_games:]
                if finished:
                    means = {key: sums[key] / updates_since_row for key in STAT_COLUMNS}
                    lengths = pool.finished_lengths[logged_games:]
                    for score, length in zip(finished, lengths, strict=True):
                        run.log_episode(
                            agent.steps, episode_return=score, episode_length=length, **means
                        )
                    logged_games += len(finished)
                    sums, updates_since_row = dict.fromkeys(STAT_COLUMNS, 0.0), 0
                if run.evaluation_due(before, agent.steps):
                    play = partial(
                        evaluate_batched,
                        agent.policy(seed=EVAL_SEED),
                        make_evaluation_game,
                        eval_episodes,
                        seed=EVAL_SEED,
                        max_steps=eval_max_steps,
                    )
                    run.evaluate(agent.steps, play, checkpoint)
                if run.checkpoint_due(before, agent.steps):
                    run.save_resume_point(checkpoint(resume_point=True))
            return run.end(agent, checkpoint)
    finally:
        pool.close()


train_a2c = train_on_policy
"""Lesson 09's name for the on-policy loop."""


def _prepare_actor_critic(request: TrainRequest, agent_class: type[A2C] | type[PPO]) -> Prepared:
    """The agent of a :class:`~.harness.TrainRequest`, sized to one game made as its config
    says (the loop makes the parallel games)."""
    config = request.config
    if not is_atari(request.env_id):
        raise ValueError(
            f"{agent_class.algo.upper()} here learns from the pixels of ALE games (e.g. "
            f"ALE/KungFuMaster-v5), and {request.env_id} is not one: train reinforce or dqn on it"
        )
    probe = make_env_for(request.env_id, training=True, **config.env_options())
    try:
        shape = tuple(probe.observation_space.shape or ())
        agent = agent_class(shape, int(probe.action_space.n), config)  # type: ignore[attr-defined]
    finally:
        probe.close()

    def train() -> TrainResult:
        return train_on_policy(agent, request.total_steps, **request.loop_options())

    return Prepared(agent, train)


def prepare_a2c(request: TrainRequest) -> Prepared:
    """A recurrent A2C agent for a request (:func:`_prepare_actor_critic`)."""
    return _prepare_actor_critic(request, A2C)


def prepare_ppo(request: TrainRequest) -> Prepared:
    """A PPO agent for a request (:func:`_prepare_actor_critic`)."""
    return _prepare_actor_critic(request, PPO)
