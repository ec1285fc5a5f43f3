"""Milliseconds per A2C update with the convs' weights channels-last, against PyTorch's default.

    python bench/a2c_update.py [--rounds 5] [--updates 20] [--games 16] [--rollout 10]

Contenders, measured in the same run and interleaved round by round (so a busy moment of
the shared machine hits both), each an untrained ``RecurrentActorCritic`` (42x42 gray
frames, LSTM(128), Kung-Fu Master's 14 actions) with its own Adam, torch on one thread:

  (a) the network as ``build_network`` makes it (contiguous NCHW weights), the peer;
  (b) the same weights in ``torch.channels_last``, as :class:`rlcourse.agents.a2c.A2C`
      keeps them.

Both run ``train_on_rollout`` on the same random rollout (``--games`` x ``--rollout``
steps, a few games ending inside it) and one acting step (a forward pass on ``--games``
frames, no gradient). Printed: ms per update and per acting step (median of the rounds),
and the peer's time over channels-last's (above 1: channels-last is faster).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from rlcourse.agents.a2c import A2CConfig, train_on_rollout
from rlcourse.networks import RecurrentActorCritic
from rlcourse.rollouts import Rollout

OBS_SHAPE, N_ACTIONS = (1, 42, 42), 14


def random_rollout(games: int, steps: int, seed: int = 0) -> Rollout:
    """A rollout of random frames and actions, about 1 game in 20 ending at each step."""
    rng = np.random.default_rng(seed)
    zeros = torch.zeros(games, 128)
    return Rollout(
        observations=rng.integers(0, 256, (games, steps, *OBS_SHAPE), dtype=np.uint8),
        actions=rng.integers(0, N_ACTIONS, (games, steps)),
        rewards=rng.random((games, steps), dtype=np.float32),
        terminated=rng.random((games, steps)) < 0.05,
        truncated=np.zeros((games, steps), bool),
        truncation_values=np.zeros((games, steps), np.float32),
        next_observations=rng.integers(0, 256, (games, *OBS_SHAPE), dtype=np.uint8),
        initial_memory=(zeros, zeros.clone()),
    )


def milliseconds(work: Callable[[], object], repeats: int) -> float:
    work()  # warm-up: allocations, kernel selection
    start = time.perf_counter()
    for _ in range(repeats):
        work()
    return (time.perf_counter() - start) / repeats * 1e3


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median)")
    parser.add_argument("--updates", type=int, default=20, help="updates per measurement")
    parser.add_argument("--games", type=int, default=16, help="games in the rollout")
    parser.add_argument("--rollout", type=int, default=10, help="steps per game")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    config = A2CConfig(n_games=args.games, rollout_length=args.rollout)
    rollout = random_rollout(args.games, args.rollout)
    frames = torch.from_numpy(rollout.observations[:, 0])
    layouts = {"default (NCHW)": torch.contiguous_format, "channels-last": torch.channels_last}
    timings: dict[str, dict[str, list[float]]] = {
        name: {"update": [], "act": []} for name in layouts
    }
    for _ in range(args.rounds):
        for name, layout in layouts.items():
            torch.manual_seed(0)
            network = RecurrentActorCritic(OBS_SHAPE, N_ACTIONS).to(memory_format=layout)
            optimizer = torch.optim.Adam(network.parameters(), lr=config.lr)
            memory = network.initial_memory(args.games)

            def act(network: RecurrentActorCritic = network, memory=memory) -> None:
                with torch.no_grad():
                    network(frames, memory)

            def update(network: RecurrentActorCritic = network, optimizer=optimizer) -> None:
                train_on_rollout(network, optimizer, rollout, config)

            timings[name]["update"].append(milliseconds(update, args.updates))
            timings[name]["act"].append(milliseconds(act, 5 * args.updates))

    medians = {
        name: {part: statistics.median(values) for part, values in parts.items()}
        for name, parts in timings.items()
    }
    peer, ours = medians["default (NCHW)"], medians["channels-last"]
    print(
        f"A2C on {args.games} games x {args.rollout} steps, 42x42, LSTM(128), torch threads="
        f"{args.threads}: ms, median of {args.rounds} rounds"
    )
    for name, parts in medians.items():
        print(f"  {name:16s} update {parts['update']:7.2f}   act {parts['act']:6.3f}")
    print(
        f"channels-last: update x{peer['update'] / ours['update']:.2f}, "
        f"act x{peer['act'] / ours['act']:.2f} (default's time over channels-last's)"
    )
    return medians


if __name__ == "__main__":
    main()
