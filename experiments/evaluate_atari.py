"""Final score of a trained Atari DQN checkpoint vs random play, over fresh full games.

Each game is the real one (all lives, unclipped points: ``make_env_for(..., training=False)``)
and starts from ``reset(seed=seed + i)``, with up to 30 random no-ops. The agent plays
epsilon-greedy with epsilon 0.05, as the Nature DQN paper evaluated (a purely greedy agent
can get stuck against a wall); ``--epsilon 0`` gives the greedy score (an A2C checkpoint
plays as it was trained, sampling from its policy). Random play is measured on the same
games. ``rlcourse evaluate CHECKPOINT --vs-random`` gives the same comparison, all games
side by side.

    python experiments/evaluate_atari.py rlcourse/pretrained/dqn_mspacman.pt --episodes 20 \
        --out bench/results/dqn_mspacman_eval.csv
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
import torch

from rlcourse.envs import env_for_checkpoint, make_env_for
from rlcourse.evaluation import TEST_SEED, evaluate
from rlcourse.files import atomic_write
from rlcourse.policies import QPolicy, RandomPolicy
from rlcourse.registry import load_policy
from rlcourse.training import progress_bar


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="a DQN checkpoint (final.pt, best.pt, pretrained)")
    parser.add_argument("--episodes", type=int, default=20, help="games per policy")
    parser.add_argument("--epsilon", type=float, default=0.05, help="the agent's exploration")
    parser.add_argument("--seed", type=int, default=TEST_SEED, help="seed of the first game")
    parser.add_argument("--max-steps", type=int, default=27_000, help="agent steps per game")
    parser.add_argument("--out", type=Path, help="CSV of every game's score")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    loaded = load_policy(args.checkpoint, device="cpu")
    info = loaded.checkpoint
    env = env_for_checkpoint(info)  # with its reduced action set, if it had one
    if isinstance(loaded, QPolicy):  # exploration draws of its own, from --seed
        agent = QPolicy(loaded.network, epsilon=args.epsilon, seed=args.seed)
        agent_name = f"{info.algo} (epsilon {args.epsilon:g})"
    else:  # a recurrent A2C agent samples from its policy
        agent, agent_name = loaded, info.algo
    # name -> (policy, env): random play over the checkpoint's action set and, when that
    # is a reduced set, over the game's full set too (the published random baselines).
    policies = {
        agent_name: (agent, env),
        f"random ({env.action_space.n} actions)": (RandomPolicy(env.action_space, args.seed), env),
    }
    full_env = make_env_for(info.env_id, training=False)
    if full_env.action_space.n != env.action_space.n:
        policies[f"random ({full_env.action_space.n} actions)"] = (
            RandomPolicy(full_env.action_space, args.seed),
            full_env,
        )
    env_id = info.env_id
    rows = []
    for name, (policy, game) in policies.items():
        started = time.perf_counter()
        bar = progress_bar(args.episodes, f"{name} on {env_id}")
        scores = []
        for i in range(args.episodes):
            score = evaluate(policy, game, 1, seed=args.seed + i, max_steps=args.max_steps)[0]
            scores.append(float(score))
            rows.append({"policy": name, "game": i, "seed": args.seed + i, "score": score})
            bar.update(1)
        bar.close()
        print(
            f"{name:22s} {np.mean(scores):8.1f} +- {np.std(scores):7.1f} over {args.episodes} "
            f"games (min {min(scores):.0f}, max {max(scores):.0f}; "
            f"{time.perf_counter() - started:.0f} s)"
        )
    print(f"checkpoint: {args.checkpoint} ({info.steps:,} training steps, {env_id})")
    if args.out:
        with atomic_write(args.out, suffix=".csv") as temporary, open(temporary, "w") as file:
            writer = csv.DictWriter(file, fieldnames=["policy", "game", "seed", "score"])
            writer.writeheader()
            writer.writerows(rows)
        print(f"wrote {args.out}")
    return rows


if __name__ == "__main__":
    main()
