"""Agent steps per second of the A2C ``ParallelGames`` with 1..16 games, against one game in a loop.

    python bench/a2c_throughput.py [--steps 2000] [--rounds 3] [--games 1 2 4 8 16]

Contenders, measured in the same run and interleaved round by round (so a busy moment of
the shared machine hits all of them), each with the same untrained recurrent agent on
Kung-Fu Master (42x42 gray frames, LSTM(128)), torch on one thread:

  (a) one game stepped in a Python loop, the agent acting on a batch of one per step
      (what the classic notebook's single-env loop does);
  (b) ``ParallelGames(agent, make_kungfu_env, n)`` for each n: ``interact`` in 10-step rollouts,
      one batched forward pass per step for all n games (Gymnasium ``SyncVectorEnv``);
  (c) the same with ``vectorization="ale"``: the n games stepped together by ale-py's C++
      ``AtariVectorEnv`` on ``--env-threads`` threads (``AtariVectorGames``: the same frames).

Both sample actions from the policy and carry the LSTM memory. Acting only (no training).
Printed: agent steps/s (all games together), median of the rounds, and the ratio to (a).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import gymnasium as gym
import torch

from rlcourse.agents.a2c import A2C, A2CConfig
from rlcourse.envs import GameSpec
from rlcourse.policies import RecurrentPolicy
from rlcourse.rollouts import ParallelGames

GAME = "ALE/KungFuMaster-v5"


def single_loop(
    agent: torch.nn.Module, make_env: Callable[[], gym.Env], steps: int, seed: int
) -> float:
    env = make_env()
    policy = RecurrentPolicy(agent, seed=seed)
    obs, _ = env.reset(seed=seed)
    start = time.perf_counter()
    for _ in range(steps):
        obs, _, terminated, truncated, _ = env.step(policy(obs))
        if terminated or truncated:
            obs, _ = env.reset()
            policy.reset()
    rate = steps / (time.perf_counter() - start)
    env.close()
    return rate


def pool_rate(
    agent: torch.nn.Module,
    make_env: Callable[[], gym.Env],
    n: int,
    steps: int,
    seed: int,
    vectorization: str = "sync",
    env_threads: int = 2,
) -> float:
    pool = ParallelGames(
        agent, make_env, n, seed=seed, vectorization=vectorization, env_threads=env_threads
    )
    pool.interact(2)  # warm-up: first frames, allocations
    rollouts = max(1, steps // (10 * n))
    start = time.perf_counter()
    for _ in range(rollouts):
        pool.interact(10)
    rate = rollouts * 10 * n / (time.perf_counter() - start)
    pool.close()
    return rate


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000, help="agent steps per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    parser.add_argument("--games", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument(
        "--env-threads", type=int, default=2, help="threads of the C++ games in (c) (default 2)"
    )
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    config = A2CConfig(seed=0)
    # Whole games, as the config makes them for evaluation (no episodic life).
    make_env = GameSpec(GAME, training=False, options=config.env_options())
    probe = make_env()
    agent = A2C(probe.observation_space.shape, probe.action_space.n, config).network
    probe.close()
    agent.eval()
    results: dict[str, list[float]] = {"single game, Python loop": []}
    results.update({f"ParallelGames, {n:2d} games": [] for n in args.games})
    results.update({f"ParallelGames, {n:2d} games, C++": [] for n in args.games})
    for round_index in range(args.rounds):
        results["single game, Python loop"].append(
            single_loop(agent, make_env, args.steps, round_index)
        )
        for n in args.games:
            rate = pool_rate(agent, make_env, n, args.steps, round_index)
            results[f"ParallelGames, {n:2d} games"].append(rate)
            rate = pool_rate(agent, make_env, n, args.steps, round_index, "ale", args.env_threads)
            results[f"ParallelGames, {n:2d} games, C++"].append(rate)

    medians = {name: statistics.median(values) for name, values in results.items()}
    peer = medians["single game, Python loop"]
    print(
        f"{GAME}, 42x42, LSTM(128), torch threads={args.threads}: agent steps/s "
        f"(all games), median of {args.rounds} rounds of ~{args.steps} steps"
    )
    for name, value in medians.items():
        spread = f"{min(results[name]):.0f}..{max(results[name]):.0f}"
        print(f"  {name:28s} {value:8.0f}   x{value / peer:4.2f}   (range {spread})")
    best = max(medians, key=medians.get)
    print(f"fastest: {best.strip()} at x{medians[best] / peer:.2f} the single-game loop")
    return medians


if __name__ == "__main__":
    main()
