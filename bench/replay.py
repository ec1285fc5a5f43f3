"""Replay memory for Atari: bytes per transition and ``sample(32)`` time, against its peers.

    python bench/replay.py [--capacity 100000] [--peer-fill N] [--rounds 40] [--slice-ms 40]

Contenders, all made for ``--capacity`` uint8 ``(4, 84, 84)`` observations of Ms. Pac-Man
(``make_atari_env``, seeded random play), measured in the same run, interleaved round by
round (so a busy moment of the machine hits all of them):

  (a) ``rlcourse.buffers.AtariReplayBuffer``, NumPy batches and (``device="cpu"``) torch
      tensors, as SB3 returns them;
  (b) the seed tutorials' buffer: a ``deque`` of float32 ``(obs, ..., next_obs)`` tuples,
      ``np.random.choice(replace=False)``, ``np.array`` stacking;
  (c) Stable-Baselines3's ``ReplayBuffer``, ``optimize_memory_usage=False``;
  (d) the same with ``optimize_memory_usage=True`` (``next_obs`` is the next row's ``obs``).

(a) is filled to capacity. Peers that would not fit in RAM are filled less, and their
bytes per transition computed from their arrays or from one entry, not by filling (the
output says which): SB3's two buffers (8.5 GB at 100k) hold as many transitions as fit in
half the available RAM (``--peer-fill``) and sample among those (a smaller working set,
if anything in their favour); the deque holds ``--capacity`` entries that share a pool of
``--deque-pool`` distinct transitions (the real deque's length, hence its real indexing
cost, without 22 GB of float32 frames).

Sampling is timed with torch limited to one thread and with its default pool (a thread a
core), round by round. SB3 copies each batch with ``torch.tensor``; on a 2-core machine
busy with other work, the pool makes those copies many times slower. One thread is SB3 at
its best: that ratio is the conservative one. Each contender gets the same time slice per
round (not the same number of calls), so each sees the machine's other load equally.

Targets (docs/benchmarks.md): <= 7.1 KB (7,100 bytes) per transition; ``sample(32)`` at
least 2x faster than SB3's faster setting. Ratios are of medians.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.buffers import ReplayBuffer as SB3ReplayBuffer

from rlcourse.buffers import AtariReplayBuffer, available_memory
from rlcourse.envs import make_atari_env

BATCH = 32
MAX_BYTES = 7_100


class SeedDequeBuffer:
    """The classic tutorials' buffer (Lapan's ExperienceBuffer style), float32 pixels."""

    def __init__(self, capacity: int, rng: np.random.Generator) -> None:
        self.buffer: deque = deque(maxlen=capacity)
        self.rng = rng

    def append(self, transition: tuple) -> None:
        self.buffer.append(transition)

    def sample(self, batch_size: int) -> tuple[np.ndarray, ...]:
        idx = self.rng.choice(len(self.buffer), batch_size, replace=False)
        obs, actions, rewards, next_obs, dones = zip(*(self.buffer[i] for i in idx), strict=True)
        return (
            np.array(obs),
            np.array(actions),
            np.array(rewards, np.float32),
            np.array(next_obs),
            np.array(dones, np.uint8),
        )


def deque_entry(obs: np.ndarray, action: int, reward: float, next_obs: np.ndarray, done: bool):
    # As the seed tutorials store it: pixels scaled to float32 in the env wrapper.
    scale = np.float32(1 / 255)
    return obs.astype(np.float32) * scale, action, reward, next_obs.astype(np.float32) * scale, done


def entry_bytes(entry: tuple) -> int:
    """Bytes one deque entry holds: the tuple, its items (arrays with their data), a slot."""
    return sys.getsizeof(entry) + sum(sys.getsizeof(item) for item in entry) + 8


def sb3_bytes_per_transition(buffer: SB3ReplayBuffer) -> float:
    arrays = [buffer.observations, buffer.actions, buffer.rewards, buffer.dones, buffer.timeouts]
    if not buffer.optimize_memory_usage:
        arrays.append(buffer.next_observations)
    return sum(array.nbytes for array in arrays) / buffer.buffer_size


def us_per_call(sample: Callable[[], Any], seconds: float) -> float:
    """Mean time of the calls made in about ``seconds`` (a time slice, not a call count:
    each contender then sees the machine's other load for as long as the others do)."""
    sample()  # warm-up
    calls, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        sample()
        calls += 1
    return elapsed / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--game", default="ALE/MsPacman-v5")
    parser.add_argument("--capacity", type=int, default=100_000)
    parser.add_argument(
        "--peer-fill",
        type=int,
        default=None,
        help="transitions in SB3's buffers "
        "(default: all that fit in half the available RAM, at most --capacity)",
    )
    parser.add_argument("--deque-pool", type=int, default=1_000, help="distinct deque entries")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--slice-ms", type=float, default=40, help="per contender and round")
    args = parser.parse_args()
    sb3_per_transition = 2 * 4 * 84 * 84 * 3 + 64  # both settings: 3 stacks + small fields
    fits = int(0.5 * (available_memory() or 0) / sb3_per_transition)
    peer_fill = min(args.capacity, fits if args.peer_fill is None else args.peer_fill)

    env = make_atari_env(args.game)
    obs_space = spaces.Box(0, 255, env.observation_space.shape, np.uint8)
    action_space = spaces.Discrete(int(env.action_space.n))
    ours = AtariReplayBuffer(args.capacity, rng=np.random.default_rng(0))
    ours_torch = AtariReplayBuffer(args.capacity, rng=np.random.default_rng(0), device="cpu")
    with warnings.catch_warnings():  # SB3 warns when 100k stacks would not fit; we fill less
        warnings.simplefilter("ignore")
        sb3 = {
            optimize: SB3ReplayBuffer(
                args.capacity,
                obs_space,
                action_space,
                device="cpu",
                optimize_memory_usage=optimize,
                handle_timeout_termination=False,
            )
            for optimize in (False, True)
        }
    seed_deque = SeedDequeBuffer(args.capacity, np.random.default_rng(0))

    print(f"Filling: {args.capacity:,} agent steps of {args.game} (random actions)...", flush=True)
    rng = np.random.default_rng(0)
    obs, _ = env.reset(seed=0)
    episodes, start = 1, time.perf_counter()
    for step in range(args.capacity):
        action = int(rng.integers(action_space.n))
        next_obs, reward, terminated, truncated, _ = env.step(action)
        for buffer in (ours, ours_torch):
            buffer.add(obs, action, reward, next_obs, terminated, truncated)
        if step < peer_fill:
            for buffer in sb3.values():
                buffer.add(
                    obs,
                    next_obs,
                    np.array([action]),
                    np.array([reward]),
                    np.array([terminated]),
                    [{}],
                )
        if step < args.deque_pool:
            seed_deque.append(deque_entry(obs, action, float(reward), next_obs, terminated))
        else:  # the deque's length and indexing cost, without 22 GB of float32 frames
            seed_deque.append(seed_deque.buffer[step % args.deque_pool])
        obs = next_obs
        if terminated or truncated:
            obs, _ = env.reset()
            episodes += 1
    fill_seconds = time.perf_counter() - start

    contenders: dict[str, Callable[[], Any]] = {
        "AtariReplayBuffer, NumPy arrays": lambda: ours.sample(BATCH),
        "AtariReplayBuffer, torch tensors (cpu)": lambda: ours_torch.sample(BATCH),
        "seed deque, float32 pairs": lambda: seed_deque.sample(BATCH),
        "SB3 ReplayBuffer, optimize_memory_usage off": lambda: sb3[False].sample(BATCH),
        "SB3 ReplayBuffer, optimize_memory_usage on": lambda: sb3[True].sample(BATCH),
    }
    threads = (1, torch.get_num_threads())
    results: dict[tuple[str, int], list[float]] = {
        (name, n): [] for name in contenders for n in threads
    }
    for _ in range(args.rounds):
        for n_threads in threads:
            torch.set_num_threads(n_threads)
            for name, sample in contenders.items():
                results[name, n_threads].append(us_per_call(sample, args.slice_ms / 1e3))
    medians = {key: statistics.median(values) for key, values in results.items()}

    stored = len(ours)
    deque_bytes = entry_bytes(seed_deque.buffer[0])
    print(
        f"{args.game}, uint8 (4, 84, 84) observations, capacity {args.capacity:,}; "
        f"filled by {args.capacity:,} random agent steps ({episodes} episodes = lives) "
        f"in {fill_seconds:.0f} s"
    )
    print(f"  AtariReplayBuffer: filled to capacity, {stored:,} transitions stored")
    sb3_full_gb = sum(map(sb3_bytes_per_transition, sb3.values())) * args.capacity / 1e9
    print(
        f"  SB3 buffers: the first {peer_fill:,} transitions"
        + (
            " (filled to capacity)"
            if peer_fill == args.capacity
            else f" (full, the two would need {sb3_full_gb:.1f} GB); they sample among those"
        )
    )
    print(
        f"  seed deque: {len(seed_deque.buffer):,} entries sharing {args.deque_pool:,} distinct "
        f"transitions (distinct ones would need {deque_bytes * args.capacity / 1e9:.1f} GB)"
    )
    print("bytes per transition")
    byte_rows = [
        ("AtariReplayBuffer (allocated / capacity)", ours.nbytes / ours.capacity, "measured"),
        ("AtariReplayBuffer (allocated / stored)", ours.nbytes / stored, "measured, full"),
        ("seed deque, float32 pairs", deque_bytes, "computed from one entry"),
        (
            "SB3 ReplayBuffer, optimize_memory_usage off",
            sb3_bytes_per_transition(sb3[False]),
            "computed from its arrays",
        ),
        (
            "SB3 ReplayBuffer, optimize_memory_usage on",
            sb3_bytes_per_transition(sb3[True]),
            "computed from its arrays",
        ),
    ]
    for label, value, how in byte_rows:
        print(f"  {label:46s} {value:9,.0f} B = {value / 1024:7.2f} KiB   ({how})")
    print(
        f"sample({BATCH}): µs per call, median (range) of {args.rounds} rounds of "
        f"{args.slice_ms:.0f} ms each, torch with 1 thread and with {threads[1]} (its default)"
    )
    for name in contenders:
        cells = [
            f"{medians[name, n]:7.0f} ({min(results[name, n]):.0f}..{max(results[name, n]):.0f})"
            for n in threads
        ]
        print(f"  {name:46s} {cells[0]:>22s} {cells[1]:>22s}")

    print("targets")
    for label, value, _ in byte_rows[:2]:
        verdict = "met" if value <= MAX_BYTES else "NOT met"
        print(f"  {label:46s} {value:9,.0f} B  (target <= {MAX_BYTES:,} B: {verdict})")
    ours_names = ("AtariReplayBuffer, NumPy arrays", "AtariReplayBuffer, torch tensors (cpu)")
    for n_threads in threads:
        sb3_faster = min(medians[name, n_threads] for name in contenders if "SB3" in name)
        for name in ours_names:
            ratio = sb3_faster / medians[name, n_threads]
            verdict = "met" if ratio >= 2 else "NOT met"
            label = f"SB3 faster / {name.removeprefix('AtariReplayBuffer, ')}, {n_threads} thr."
            print(f"  {label:46s} {ratio:8.2f}x  (target >= 2x: {verdict})")
    deque_ratio = medians["seed deque, float32 pairs", 1] / medians[ours_names[0], 1]
    print(f"  {'seed deque / AtariReplayBuffer (NumPy), 1 thr.':46s} {deque_ratio:8.1f}x")
    memory_ratio = deque_bytes / (ours.nbytes / ours.capacity)
    print(f"  {'memory: seed deque / AtariReplayBuffer':46s} {memory_ratio:8.1f}x")


if __name__ == "__main__":
    main()
