"""bench/dqn_update.py: every contender times the same update, and before and now agree."""

from __future__ import annotations

import torch
from conftest import load_script


def test_the_contenders_are_timed_and_before_and_now_compute_the_same_update(capsys) -> None:
    bench = load_script("bench/dqn_update")
    threads = torch.get_num_threads()  # the bench sets it for the whole process
    try:
        result = bench.main(
            ["--rounds", "1", "--updates", "1", "--warmup", "0", "--batch-size", "2"]
            + ["--transitions", "40"]
        )
    finally:
        torch.set_num_threads(threads)
    assert set(result["ms"]) == set(bench.CONTENDERS) and len(result["ms"]) == 3
    assert all(ms > 0 for ms in result["ms"].values()) and result["gflops_matmul"] > 0
    assert set(result["cpu_ms"]) == set(result["ms"]) and result["cpu_ratio"] > 0
    assert result["loss_gap"] == 0.0 and result["weight_gap"] < 1e-6
    printed = capsys.readouterr().out
    assert "FLOP bound" in printed and "faster than before in wall time" in printed


def test_the_flop_count_is_the_nature_cnns() -> None:
    bench = load_script("bench/dqn_update")
    agent = bench.make_agent(transitions=10, batch_size=2)
    # convs 32x20x20x(4x8x8) + 64x9x9x(32x4x4) + 64x7x7x(64x3x3), 3136x512, dueling 512x(1+14)
    multiply_adds = 3_276_800 + 2_654_208 + 1_806_336 + 3136 * 512 + 512 * 15
    assert bench.flops_per_sample(agent.q) == 2 * multiply_adds
    assert len(agent.buffer) == 10
