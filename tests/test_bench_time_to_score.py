"""bench/time_to_score.py: both workers train for the same wall time and are scored by the
course's protocol (seconds, in-process)."""

from __future__ import annotations

import csv
from types import ModuleType

import pytest
import torch
from conftest import load_script


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_script("bench/time_to_score")


def test_arguments_are_checked(bench: ModuleType) -> None:
    with pytest.raises(SystemExit):
        bench.parse_args(["--minutes", "0"])
    args = bench.parse_args(["--quick"])
    assert args.minutes < 1 and args.seeds == [0] and args.eval_episodes == 2


def test_the_course_uses_the_data_efficient_options(bench: ModuleType) -> None:
    config = bench.course_config(seed=3)
    assert config.double and config.dueling and config.n_step == 10 and config.random_shift == 4
    assert config.learning_starts == bench.LEARNING_STARTS == 1_600
    assert config.exploration_steps == bench.EXPLORATION_STEPS and config.seed == 3


def test_workers_stop_on_time_and_are_scored_alike(bench: ModuleType) -> None:
    pytest.importorskip("stable_baselines3", reason="stable_baselines3 is not installed")
    threads = torch.get_num_threads()  # the workers set it for the whole process
    args = bench.parse_args(["--minutes", "0.04", "--eval-episodes", "1", "--seed", "0"])
    try:
        results = [bench.course_worker(args), bench.sb3_worker(args)]
    finally:
        torch.set_num_threads(threads)
    for result in results:
        # Both train for the budget (0.04 min), not less; no upper bound on wall time: a
        # loaded machine is slower, and speed is the benches' job, not the tests'.
        assert result["train_seconds"] >= 0.04 * 60
        assert result["steps"] > 0 and len(result["scores"]) == 1
        assert result["scores"][0] >= 0  # a whole game's real score (Ms. Pac-Man: no penalty)


def score_rows(course: list[float], sb3: list[float]) -> list[dict]:
    return [
        {"seed": seed, "implementation": impl, "eval_mean": score}
        for impl, scores in (("course", course), ("sb3", sb3))
        for seed, score in enumerate(scores)
    ]


def test_the_target_is_met_only_by_the_whole_interval(bench: ModuleType) -> None:
    lines, verdicts = bench.report(
        score_rows([900.0, 950.0, 1000.0, 920.0], [400.0, 420.0, 450.0, 410.0]),
        "ALE/MsPacman-v5",
        30,
        20,
    )
    assert verdicts == {"ratio": True}
    assert any("IQM ratio" in line and "whole interval: met" in line for line in lines)
    # The committed 3 seeds: 1.29x, its interval reaching below 1.5x (and above).
    lines, verdicts = bench.report(
        score_rows([711.5, 724.5, 858.0], [735.0, 596.0, 450.0]), "ALE/MsPacman-v5", 30, 20
    )
    assert verdicts == {"ratio": False}
    assert any("IQM ratio 1.29x" in line and "NOT met" in line for line in lines)


def test_one_seed_is_not_judged(bench: ModuleType) -> None:
    lines, verdicts = bench.report(score_rows([900.0], [300.0]), "ALE/MsPacman-v5", 30, 20)
    assert verdicts == {} and any("not judged" in line for line in lines)


def test_the_summary_reads_the_committed_rows(bench: ModuleType, capsys) -> None:
    with bench.DEFAULT_CSV.open() as file:
        seeds = {row["seed"] for row in csv.DictReader(file)}
    bench.main(["--summary"])
    printed = capsys.readouterr().out
    assert f"{len(seeds)} seed(s)" in printed and "IQM ratio" in printed and "95% CI" in printed
