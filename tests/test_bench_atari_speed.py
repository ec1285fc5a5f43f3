"""bench/atari_dqn_speed.py: both workers do the same work (a few seconds, in-process)."""

from __future__ import annotations

from types import ModuleType

import pytest
import torch
from conftest import load_script


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_script("bench/atari_dqn_speed")


def test_arguments_are_checked(bench: ModuleType) -> None:
    with pytest.raises(SystemExit):
        bench.parse_args(["--steps", "10"])  # not a multiple of train_freq
    with pytest.raises(SystemExit):
        bench.parse_args(["--learning-starts", "16"])  # fewer than a batch
    args = bench.parse_args(["--capacity", "1000"])
    assert args.learning_starts == 1000  # a full replay memory when timing starts


def test_workers_take_the_same_updates(bench: ModuleType) -> None:
    pytest.importorskip("stable_baselines3", reason="stable_baselines3 is not installed")
    threads = torch.get_num_threads()  # the workers set it for the whole process
    argv = ["--steps", "8", "--learning-starts", "32", "--capacity", "64", "--threads", "1"]
    try:
        args = bench.parse_args(argv)
        course, sb3 = bench.course_worker(args), bench.sb3_worker(args)
    finally:
        torch.set_num_threads(threads)
    for result in (course, sb3):
        assert result["updates"] == 8 // 4
        assert result["seconds"] > 0 and result["peak_rss_mib"] >= result["setup_rss_mib"] > 0
        assert result["buffer_capacity"] == 64
    assert sb3["buffer_transitions"] == 40
    # Two uint8 (4, 84, 84) stacks a transition against one 84x84 frame a slot.
    assert sb3["buffer_bytes_per_slot"] > 7 * course["buffer_bytes_per_slot"]


def _results(course: list[float], sb3: list[float]) -> dict:
    def run(rate: float) -> dict:
        return {
            "steps_per_s": rate,
            "peak_rss_mib": 900.0,
            "setup_rss_mib": 500.0,
            "version": "x",
            "buffer_transitions": 64,
            "buffer_capacity": 64,
            "buffer_mib": 1.0,
            "buffer_bytes_per_slot": 7056,
        }

    return {"course": [run(r) for r in course], "sb3": [run(r) for r in sb3]}


@pytest.mark.parametrize(
    ("course", "sb3", "verdict"),
    [
        ([200, 210, 190, 205, 195], [100, 102, 98, 101, 99], "target >= 1.5x, whole interval: met"),
        ([100, 104, 98, 101, 99], [100, 102, 98, 101, 99], "whole interval: NOT met"),
        ([100, 300, 98, 290, 150], [100, 102, 98, 101, 99], "straddles it"),
        ([200, 210, 190], [100, 102, 98], "not judged: fewer than 5 rounds"),
    ],
)
def test_the_target_is_judged_by_the_whole_interval(bench, capsys, course, sb3, verdict) -> None:
    args = bench.parse_args(["--rounds", str(len(course))])
    bench.report(args, _results(course, sb3))
    line = next(x for x in capsys.readouterr().out.splitlines() if "course / SB3" in x)
    assert "median ratio" in line and "95% CI" in line and verdict in line, line
