"""Agent steps per second of the Atari preprocessing pipeline, against its two peers.

    python bench/env_throughput.py [--game ALE/MsPacman-v5] [--steps 4000] [--rounds 5]

Contenders, measured in the same run, interleaved round by round (so a busy moment of the
machine hits all of them), each playing the same seeded random actions:

  (a) raw ALE bound: ``gym.make(id, frameskip=1)`` RGB frames per second / frame skip;
  (b) ``rlcourse.envs.make_atari_env`` (noop reset, skip 4 + max, 84x84 gray, 4 frames);
  (c) Gymnasium's ``AtariPreprocessing`` + ``FrameStackObservation`` with the same settings.

Targets (docs/benchmarks.md): (b) >= 0.9 x (a) and (b) >= 1.25 x (c). Ratios are of medians.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import gymnasium as gym
import numpy as np
from gymnasium.wrappers import AtariPreprocessing, FrameStackObservation

from rlcourse.envs import make_atari_env, make_env

FRAME_SKIP = 4


def steps_per_second(env: gym.Env, actions: np.ndarray, seed: int) -> float:
    env.reset(seed=seed)
    start = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
    return len(actions) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--game", default="ALE/MsPacman-v5")
    parser.add_argument("--steps", type=int, default=4000, help="agent steps per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    raw = make_env(args.game)  # frameskip=1, RGB, no sticky actions
    ours = make_atari_env(args.game, episodic_life=False, clip_rewards=False)
    gymnasium_peer = FrameStackObservation(
        AtariPreprocessing(make_env(args.game), noop_max=30, frame_skip=FRAME_SKIP), 4
    )
    rng = np.random.default_rng(0)
    n_actions = int(ours.action_space.n)
    contenders: dict[str, Callable[[np.ndarray, int], float]] = {
        "raw ALE bound (frames/s / 4)": lambda acts, seed: (
            steps_per_second(raw, np.repeat(acts, FRAME_SKIP), seed) / FRAME_SKIP
        ),
        "rlcourse make_atari_env": lambda acts, seed: steps_per_second(ours, acts, seed),
        "Gymnasium AtariPreprocessing+FrameStack": lambda acts, seed: steps_per_second(
            gymnasium_peer, acts, seed
        ),
    }
    results: dict[str, list[float]] = {name: [] for name in contenders}
    for round_index in range(args.rounds):
        actions = rng.integers(0, n_actions, size=args.steps)
        for name, measure in contenders.items():
            results[name].append(measure(actions, round_index))

    medians = {name: statistics.median(values) for name, values in results.items()}
    print(f"{args.game}: agent steps/s, median of {args.rounds} rounds of {args.steps} steps")
    for name, value in medians.items():
        spread = f"{min(results[name]):.0f}..{max(results[name]):.0f}"
        print(f"  {name:42s} {value:8.0f}   (range {spread})")
    raw_bound, course, peer = medians.values()
    checks = [
        ("make_atari_env / raw ALE bound", course / raw_bound, 0.9),
        ("make_atari_env / Gymnasium pipeline", course / peer, 1.25),
    ]
    for label, ratio, target in checks:
        verdict = "met" if ratio >= target else "NOT met"
        print(f"  {label:42s} {ratio:8.2f}x  (target >= {target}x: {verdict})")


if __name__ == "__main__":
    main()
