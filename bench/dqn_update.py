"""Milliseconds per data-efficient DQN update: the code path before the cheaper update and now.

    python bench/dqn_update.py [--rounds 5] [--updates 40] [--warmup 30] [--threads 1]

One full update of the ``atari100k`` preset (lesson 07): a minibatch of 32 drawn from the
replay memory with 10-step returns (``sample_n_step``), DrQ's random shift of 4 pixels on
``s`` and ``s'``, the Nature CNN with the dueling head (14 actions: Kung-Fu Master's), Double
DQN targets, Huber loss, backward, gradient clipping at norm 10, Adam. As in the preset, the
target network is synced after every update. Contenders, each with its own agent, in
interleaved rounds (so a busy moment of the shared machine hits all of them), medians:

  (a) before: the update as it was (Adam's default for-loop implementation on a CPU, and
      two forward passes on ``s'``: the online net's and the target net's);
  (b) now: :meth:`rlcourse.agents.dqn.DQN.update` (fused Adam; the target, a copy of the
      online net, costs no forward pass of its own);
  (c) one forward pass of the online net on ``[s; s']`` with gradient (tried, not used: the
      backward pass then runs over both halves).

Printed: ms per update, wall time (median, p10-p90) and the process's CPU time (median: on
a shared machine the wall time also counts the waits for a core, the CPU time does not; with
more than one thread it adds the threads up), the FLOP count per update, the FLOP bound
(that count at the rate of a large fp32 matrix product measured in the same run, on the same
threads) and the before/now ratios. Before timing, (a) and (b) take one update from the same
weights on the same minibatch, and the printed differences of loss and weights show they
compute the same thing. The replay memory holds random frames: sampling costs the same as
with a game's. Targets and the last measurements: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from rlcourse.agents.dqn import (
    DQN,
    atari_100k_config,
    compute_dqn_loss,
    double_dqn_target,
    update_target_network,
)
from rlcourse.augmentation import random_shift
from rlcourse.buffers import ReplaySample

OBS_SHAPE, N_ACTIONS = (4, 84, 84), 14
Update = Callable[[DQN, ReplaySample, Any], float]


def update_before(agent: DQN, batch: ReplaySample, discounts: Any) -> float:
    """The update as ``DQN.update`` ran it before the change (pair it with Adam's defaults)."""
    c = agent.config
    batch = ReplaySample(*(torch.as_tensor(array) for array in batch))
    batch = batch._replace(
        obs=random_shift(batch.obs, c.random_shift, agent.rng),
        next_obs=random_shift(batch.next_obs, c.random_shift, agent.rng),
    )
    gamma = torch.as_tensor(discounts)
    loss, _ = compute_dqn_loss(agent.q, agent.target, batch, gamma, double=c.double, loss=c.loss)
    agent.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if c.max_grad_norm is not None:
        nn.utils.clip_grad_norm_(agent.q.parameters(), c.max_grad_norm)
    agent.optimizer.step()
    return loss.item()


def update_now(agent: DQN, batch: ReplaySample, discounts: Any) -> float:
    return agent.update(batch, discounts).loss


def update_one_forward(agent: DQN, batch: ReplaySample, discounts: Any) -> float:
    """One forward pass of the online net on ``[s; s']`` (valid here: target == online)."""
    c = agent.config
    batch = ReplaySample(*(torch.as_tensor(array) for array in batch))
    obs = random_shift(batch.obs, c.random_shift, agent.rng)
    next_obs = random_shift(batch.next_obs, c.random_shift, agent.rng)
    q_all = agent.q(torch.cat([obs, next_obs]))
    q, next_q = q_all[: len(obs)], q_all[len(obs) :].detach()
    q_taken = q.gather(1, batch.actions.long().unsqueeze(1)).squeeze(1)
    gamma = torch.as_tensor(discounts)
    target = double_dqn_target(
        batch.rewards.float(), next_q, next_q, batch.terminated, batch.truncated, gamma
    )
    loss = F.smooth_l1_loss(q_taken, target)
    agent.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if c.max_grad_norm is not None:
        nn.utils.clip_grad_norm_(agent.q.parameters(), c.max_grad_norm)
    agent.optimizer.step()
    return loss.item()


CONTENDERS: dict[str, Update] = {
    "before (for-loop Adam, 2 passes on s')": update_before,
    "now (DQN.update)": update_now,
    "one pass on [s; s'] (not used)": update_one_forward,
}


def make_agent(transitions: int, batch_size: int, seed: int = 0) -> DQN:
    """An ``atari100k`` agent whose replay memory holds random frames (1 life in 200 ends)."""
    config = atari_100k_config(seed=seed, device="cpu", batch_size=batch_size)
    space = gym.spaces.Box(0, 255, OBS_SHAPE, np.uint8)
    agent = DQN(space, gym.spaces.Discrete(N_ACTIONS), config)
    rng = np.random.default_rng(seed)
    obs = rng.integers(0, 256, OBS_SHAPE, dtype=np.uint8)
    for t in range(transitions):
        frame = rng.integers(0, 256, (1, *OBS_SHAPE[1:]), dtype=np.uint8)
        next_obs = np.concatenate([obs[1:], frame])
        reward = float(rng.random() < 0.05)
        agent.buffer.add(obs, int(rng.integers(N_ACTIONS)), reward, next_obs, t % 200 == 199, False)
        obs = next_obs
    return agent


def flops_per_sample(network: nn.Module) -> int:
    """Multiply-adds x 2 of one forward pass of one sample, counted on the conv and linear
    layers (the rest is a few percent)."""
    total = 0

    def count(module: nn.Module, _: Any, output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, nn.Conv2d):
            per_output = module.in_channels // module.groups * int(np.prod(module.kernel_size))
            total += 2 * output[0].numel() * per_output
        elif isinstance(module, nn.Linear):
            total += 2 * module.in_features * module.out_features

    hooks = [m.register_forward_hook(count) for m in network.modules()]
    with torch.no_grad():
        network(torch.zeros(1, *OBS_SHAPE, dtype=torch.uint8))
    for hook in hooks:
        hook.remove()
    return total


def matmul_gflops(size: int = 1024, trials: int = 7) -> float:
    """fp32 GFLOP/s of a large matrix product in CPU time, the best of a few trials: what
    this CPU's cores reach at best."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b  # warm-up
    seconds = []
    for _ in range(trials):
        start = time.process_time()
        a @ b
        seconds.append(time.process_time() - start)
    return 2 * size**3 / min(seconds) / 1e9


def agreement(transitions: int, batch_size: int) -> tuple[float, float]:
    """One update of (a) and of (b) from the same weights, minibatch and shifts: the loss's
    difference and the largest weight difference after Adam's step."""
    before, now = make_agent(transitions, batch_size), make_agent(transitions, batch_size)
    before.optimizer = torch.optim.Adam(before.q.parameters(), lr=before.config.lr)
    batch, discounts = before.buffer.sample_n_step(batch_size, 10, before.config.gamma)
    loss_before = update_before(before, batch, discounts)
    loss_now = update_now(now, batch, discounts)
    weights = max(
        (a - b).abs().max().item()
        for a, b in zip(before.q.parameters(), now.q.parameters(), strict=True)
    )
    return abs(loss_before - loss_now), weights


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--updates", type=int, default=40, help="timed updates per round")
    parser.add_argument("--warmup", type=int, default=30, help="untimed updates first (each)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--batch-size", type=int, default=32, help="minibatch (the preset: 32)")
    parser.add_argument("--transitions", type=int, default=5_000, help="in the replay memory")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    loss_gap, weight_gap = agreement(args.transitions, args.batch_size)
    agents = {name: make_agent(args.transitions, args.batch_size) for name in CONTENDERS}
    before = next(iter(CONTENDERS))
    # Adam's defaults: on a CPU, the for-loop implementation the agent used before
    agents[before].optimizer = torch.optim.Adam(agents[before].q.parameters(), lr=1e-4)
    times: dict[str, list[float]] = {name: [] for name in CONTENDERS}
    cpu_times: dict[str, list[float]] = {name: [] for name in CONTENDERS}

    def run(name: str, count: int, timed: bool) -> None:
        agent = agents[name]
        for _ in range(count):
            start, cpu_start = time.perf_counter(), time.process_time()
            batch, discounts = agent.buffer.sample_n_step(args.batch_size, 10, agent.config.gamma)
            CONTENDERS[name](agent, batch, discounts)
            if timed:
                times[name].append((time.perf_counter() - start) * 1e3)
                cpu_times[name].append((time.process_time() - cpu_start) * 1e3)
            update_target_network(agent.target, agent.q, 1.0)  # the preset's sync, untimed

    for name in CONTENDERS:
        run(name, args.warmup, timed=False)
    for _ in range(args.rounds):
        for name in CONTENDERS:
            run(name, args.updates, timed=True)

    per_sample = flops_per_sample(agents[before].q)
    # forward + backward on s ~ 3 forward passes; then 2 passes on s' before, 1 now, and
    # the [s; s'] pass with its backward over both halves ~ 6.
    passes = dict(zip(CONTENDERS, (5, 4, 6), strict=True))
    gflops = matmul_gflops()
    medians = {name: statistics.median(values) for name, values in times.items()}
    cpu = {name: statistics.median(values) for name, values in cpu_times.items()}
    print(
        f"data-efficient DQN update (atari100k: Nature CNN + dueling, batch {args.batch_size}, "
        f"10-step, shift 4, double), torch {torch.__version__}, {args.threads} thread(s), "
        f"{args.rounds} rounds x {args.updates} updates; load average {load_before:.2f} before, "
        f"{os.getloadavg()[0]:.2f} after"
    )
    print(f"(a) vs (b) on one update: loss differs by {loss_gap:.1e}, weights by {weight_gap:.1e}")
    print(f"FLOP bound: fp32 matrix product at {gflops:.0f} GFLOP/s of CPU time, these threads")
    for name, values in times.items():
        flop = passes[name] * per_sample * args.batch_size
        bound = flop / (gflops * 1e9) * 1e3
        p10, p90 = np.percentile(values, [10, 90])
        print(
            f"  {name:38s} {medians[name]:6.1f} ms (p10 {p10:.1f}, p90 {p90:.1f}), CPU "
            f"{cpu[name]:5.1f} ms; {flop / 1e9:.2f} GFLOP, bound {bound:.1f} ms = "
            f"{bound / cpu[name]:.0%} of the CPU time"
        )
    now = "now (DQN.update)"
    ratio, cpu_ratio = medians[before] / medians[now], cpu[before] / cpu[now]
    print(f"now: x{ratio:.2f} faster than before in wall time, x{cpu_ratio:.2f} in CPU time")
    return {
        "ms": medians,
        "cpu_ms": cpu,
        "ratio": ratio,
        "cpu_ratio": cpu_ratio,
        "gflops_matmul": gflops,
        "loss_gap": loss_gap,
        "weight_gap": weight_gap,
    }


if __name__ == "__main__":
    main()
