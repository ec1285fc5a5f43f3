"""Wall time to solve CartPole-v1: the course's DQN vs Stable-Baselines3's DQN (RL-Zoo).

    python bench/cartpole_solve.py [--seeds 0 1 2 3 4] [--max-steps 50000] [--no-sb3]

For each seed, in the same run and alternating (so both see the same machine load):

* the course's DQN with ``cartpole_config()`` (``rlcourse.agents.dqn``);
* SB3's DQN with the RL-Zoo CartPole-v1 hyperparameters (``hyperparams/dqn.yml``).

Every ``--eval-every`` steps a 10-episode greedy evaluation runs (same seeds for both, its
time excluded); the first evaluation with mean >= 475 counts as solved. One torch thread
each. Targets (docs/benchmarks.md): >= 4 of 5 course seeds solve within 50k steps; the
course's median wall time to solve <= 0.5x SB3's (unsolved seeds count as infinitely slow).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import NamedTuple

import numpy as np
import torch

from rlcourse.agents.dqn import DQN, cartpole_config
from rlcourse.envs import make_env
from rlcourse.evaluation import EVAL_SEED, evaluate  # the course's loop and SB3's callback
from rlcourse.training import train_dqn

SOLVED = 475.0
FINAL_SEED = 20_000  # the final 10-episode score: games neither run selected on

# rl-baselines3-zoo, hyperparams/dqn.yml, CartPole-v1
ZOO = {
    "learning_rate": 2.3e-3,
    "batch_size": 64,
    "buffer_size": 100_000,
    "learning_starts": 1000,
    "gamma": 0.99,
    "target_update_interval": 10,
    "train_freq": 256,
    "gradient_steps": 128,
    "exploration_fraction": 0.16,
    "exploration_final_eps": 0.04,
    "policy_kwargs": {"net_arch": [256, 256]},
}


class Run(NamedTuple):
    solved_at: int | None
    wall_seconds: float  # to solve (or to the end, if never solved), evaluations excluded
    final_score: float


def run_course(seed: int, max_steps: int, eval_every: int, episodes: int) -> Run:
    env, eval_env = make_env("CartPole-v1"), make_env("CartPole-v1")
    agent = DQN(env.observation_space, env.action_space, cartpole_config(seed=seed, device="cpu"))
    result = train_dqn(
        agent,
        env,
        max_steps,
        eval_env=eval_env,
        eval_every=eval_every,
        eval_episodes=episodes,
        solve_score=SOLVED,
        progress=False,
    )
    final = evaluate(agent.policy(), eval_env, 10, seed=FINAL_SEED).mean()
    return Run(result.solved_at_step, result.wall_seconds, float(final))


def run_sb3(seed: int, max_steps: int, eval_every: int, episodes: int) -> Run:
    from stable_baselines3 import DQN as SB3DQN  # noqa: N811
    from stable_baselines3.common.callbacks import BaseCallback

    eval_env = make_env("CartPole-v1")
    model = SB3DQN("MlpPolicy", make_env("CartPole-v1"), seed=seed, device="cpu", verbose=0, **ZOO)

    def greedy(obs: np.ndarray) -> int:
        return int(model.predict(obs, deterministic=True)[0])

    class EvalUntilSolved(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.eval_seconds = 0.0
            self.solved_at: int | None = None

        def _on_step(self) -> bool:
            if self.num_timesteps % eval_every:
                return True
            start = time.perf_counter()
            score = evaluate(greedy, eval_env, episodes, seed=EVAL_SEED).mean()
            self.eval_seconds += time.perf_counter() - start
            if score >= SOLVED:
                self.solved_at = self.num_timesteps
                return False
            return True

    callback = EvalUntilSolved()
    start = time.perf_counter()
    model.learn(total_timesteps=max_steps, callback=callback)
    wall = time.perf_counter() - start - callback.eval_seconds
    final = evaluate(greedy, eval_env, 10, seed=FINAL_SEED).mean()
    return Run(callback.solved_at, wall, float(final))


def main(argv: list[str] | None = None) -> dict[str, list[Run]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--max-steps", type=int, default=50_000)
    parser.add_argument("--eval-every", type=int, default=1_000)
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument("--no-sb3", action="store_true", help="the course's DQN only")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    runners = {"course DQN": run_course, "SB3 DQN (RL-Zoo)": run_sb3}
    if args.no_sb3:
        del runners["SB3 DQN (RL-Zoo)"]
    runs: dict[str, list[Run]] = {name: [] for name in runners}
    for seed in args.seeds:
        for name, runner in runners.items():
            run = runner(seed, args.max_steps, args.eval_every, args.eval_episodes)
            runs[name].append(run)
            solved = f"solved at {run.solved_at:>6}" if run.solved_at else "not solved     "
            print(
                f"seed {seed}  {name:18s} {solved}  {run.wall_seconds:6.1f} s  "
                f"final 10-episode score {run.final_score:5.1f}",
                flush=True,
            )

    def median_time(name: str) -> float:
        return statistics.median(r.wall_seconds if r.solved_at else np.inf for r in runs[name])

    print(
        f"\nCartPole-v1, {len(args.seeds)} seeds, up to {args.max_steps} steps, "
        f"evaluation every {args.eval_every} steps (time excluded)"
    )
    for name, results in runs.items():
        solved = sum(r.solved_at is not None for r in results)
        steps = [r.solved_at for r in results if r.solved_at]
        median_steps = statistics.median(steps) if steps else float("nan")
        print(
            f"  {name:18s} solved {solved}/{len(results)}, median steps to solve "
            f"{median_steps:>8.0f}, median wall time to solve {median_time(name):6.1f} s"
        )
    ours = median_time("course DQN")
    theirs = median_time("SB3 DQN (RL-Zoo)") if "SB3 DQN (RL-Zoo)" in runs else np.nan
    ratio = ours / theirs if np.isfinite(theirs) else float("nan")
    n_solved = sum(r.solved_at is not None for r in runs["course DQN"])
    print(
        f"  course seeds solved: {n_solved}/{len(args.seeds)} (target >= 4 of 5: "
        f"{'met' if n_solved >= 0.8 * len(args.seeds) else 'NOT met'})"
    )
    print(
        f"  median wall time ratio course/SB3: {ratio:.2f}x (target <= 0.5x: "
        f"{'met' if ratio <= 0.5 else 'NOT met'})"
    )
    return runs


if __name__ == "__main__":
    main()
