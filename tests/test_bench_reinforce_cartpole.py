"""bench/reinforce_cartpole.py: seeds solved in time counted, intervals in the summary, rows
appended across sittings (seconds: tiny budgets and synthetic rows)."""

from __future__ import annotations

import csv
from pathlib import Path
from types import ModuleType

import pytest
import torch
from conftest import load_script


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_script("bench/reinforce_cartpole")


def rows(agent: str, seconds: list[float | None]) -> list[dict]:
    """Synthetic rows; ``None``: not solved (stopped by the time limit)."""
    return [
        {
            "agent": agent,
            "seed": seed,
            "solved": s is not None,
            "steps": 150_000 if s is not None else 400_000,
            "train_seconds": s if s is not None else 180.0,
        }
        for seed, s in enumerate(seconds)
    ]


def test_defaults_and_bad_arguments(bench: ModuleType) -> None:
    assert bench.parse_args([]).seeds == list(range(20))
    for bad in (["--max-minutes", "0"], ["--eval-every", "0"]):
        with pytest.raises(SystemExit):
            bench.parse_args(bad)


def test_the_target_counts_seeds_solved_in_time(bench: ModuleType) -> None:
    lines, verdicts = bench.report(rows(bench.REINFORCE, [40.0] * 16 + [None] * 4), 3.0)
    assert verdicts == {"solved": True}  # 16 of 20 = 80%
    assert any("on 16 of 20 seeds (target >= 16 of 20: met)" in line for line in lines)
    late = rows(bench.REINFORCE, [40.0] * 15 + [200.0] + [None] * 4)  # solved, after 3 min
    lines, verdicts = bench.report(late, 3.0)
    assert verdicts == {"solved": False}
    assert any("solved 15/20" in line and "IQM" in line and "95% CI" in line for line in lines)


def test_the_dqn_peer_gives_a_ratio_with_its_interval(bench: ModuleType) -> None:
    found = rows(bench.REINFORCE, [40.0 + i for i in range(10)])
    found += rows(bench.DQN, [20.0 + i % 3 for i in range(10)])
    lines, _ = bench.report(found, 3.0)
    (ratio,) = [line for line in lines if "REINFORCE / DQN" in line]
    assert "IQM ratio" in ratio and "95% CI" in ratio


def test_rows_are_written_appended_and_summarized(bench: ModuleType, tmp_path: Path) -> None:
    threads = torch.get_num_threads()
    out = tmp_path / "reinforce.csv"
    common = ["--max-steps", "1500", "--eval-every", "1000", "--out", str(out)]
    try:
        bench.main(["--seeds", "0", "1", *common])
        found = bench.main(["--seeds", "2", "--append", *common])
    finally:
        torch.set_num_threads(threads)
    assert [r["seed"] for r in found] == [0, 1, 2]
    with out.open() as file:
        written = list(csv.DictReader(file))
    assert [int(r["seed"]) for r in written] == [0, 1, 2]
    assert all(0 < float(r["test_score"]) <= 500 for r in written)
    assert all(int(r["steps"]) >= 1000 for r in written)  # whole episodes: at least the budget
    markdown = out.with_suffix(".md").read_text()
    assert markdown.count("| course REINFORCE |") == 3 and "95% CI" in markdown
    assert len(bench.main(["--summary", "--out", str(out)])) == 3  # nothing run, nothing added
