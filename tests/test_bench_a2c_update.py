"""bench/a2c_update.py: both layouts time the same update on the same rollout."""

from __future__ import annotations

import numpy as np
import torch
from conftest import load_script


def test_both_layouts_are_timed_and_compared(capsys) -> None:
    bench = load_script("bench/a2c_update")
    threads = torch.get_num_threads()  # the bench sets it for the whole process
    try:
        medians = bench.main(["--rounds", "1", "--updates", "1", "--games", "3", "--rollout", "2"])
    finally:
        torch.set_num_threads(threads)
    assert set(medians) == {"default (NCHW)", "channels-last"}
    for parts in medians.values():
        assert parts["update"] > 0 and parts["act"] > 0
    assert "channels-last: update x" in capsys.readouterr().out


def test_random_rollout_has_the_shapes_of_a_pool_rollout() -> None:
    rollout = load_script("bench/a2c_update").random_rollout(games=4, steps=3)
    assert rollout.observations.shape == (4, 3, 1, 42, 42)
    assert rollout.observations.dtype == np.uint8
    assert rollout.actions.shape == rollout.rewards.shape == rollout.alive.shape == (4, 3)
    assert rollout.next_observations.shape == (4, 1, 42, 42)
