"""bench/cartpole_solve.py: runs written and read back, the summary's intervals, and targets
judged by their whole interval (seconds: tiny budgets and synthetic runs)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
import torch
from conftest import load_script


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_script("bench/cartpole_solve")


def runs(bench: ModuleType, seconds: list[float | None], per_step_ms: float = 1.0) -> list:
    """Synthetic runs: ``None`` never solved (50k steps trained)."""
    return [
        bench.Run(None, 50_000, 50.0, 100.0)
        if s is None
        else bench.Run(int(s / per_step_ms * 1000), int(s / per_step_ms * 1000), s, 500.0)
        for s in seconds
    ]


def test_defaults_are_20_seeds_and_settings_are_parsed(bench: ModuleType) -> None:
    args = bench.parse_args([])
    assert args.seeds == list(range(20)) and args.label == bench.COURSE and args.settings == {}
    args = bench.parse_args(["--set", "double=false", "hidden_sizes=[256,256]", "loss=mse"])
    assert args.settings == {"double": False, "hidden_sizes": [256, 256], "loss": "mse"}
    assert args.label == 'course DQN (double=false, hidden_sizes=[256, 256], loss="mse")'
    for bad in (["--set", "no_such_field=1"], ["--set", "double"], ["--set", "lr=-1"]):
        with pytest.raises(SystemExit):
            bench.parse_args(bad)
    with pytest.raises(SystemExit):
        bench.parse_args(["--max-steps", "0"])


def test_a_fast_course_meets_both_targets(bench: ModuleType) -> None:
    found = {
        bench.COURSE: runs(bench, [10.0 + i % 5 for i in range(20)]),
        bench.SB3: runs(bench, [40.0 + i % 7 for i in range(20)]),
    }
    lines, verdicts = bench.report(found, 50_000)
    assert verdicts == {"solved": True, "ratio": True}
    assert any("whole interval: met" in line for line in lines)
    assert any("solved 20 of 20" in line and "target >= 19 of 20: met" in line for line in lines)


def test_a_ratio_whose_interval_straddles_the_target_is_not_met(bench: ModuleType) -> None:
    # Medians 0.5x apart, but the course's seeds spread from 2 to 60 s: no separation.
    course = [2.0, 60.0, 5.0, 55.0, 20.0, 3.0, 50.0, 25.0, 10.0, 45.0] * 2
    found = {
        bench.COURSE: runs(bench, course),
        bench.SB3: runs(bench, [50.0 + i for i in range(20)]),
    }
    lines, verdicts = bench.report(found, 50_000)
    assert verdicts["ratio"] is False
    assert any("whole interval: NOT met" in line for line in lines)


def test_unsolved_seeds_count_against_the_course(bench: ModuleType) -> None:
    found = {
        bench.COURSE: runs(bench, [10.0] * 18 + [None, None]),
        bench.SB3: runs(bench, [40.0] * 20),
    }
    lines, verdicts = bench.report(found, 50_000)
    assert verdicts["solved"] is False  # 18 of 20 < 19
    assert any("solved 18/20" in line for line in lines)
    # a quarter or more of the seeds unsolved: the IQM itself is infinite
    found[bench.COURSE] = runs(bench, [10.0] * 14 + [None] * 6)
    lines, verdicts = bench.report(found, 50_000)
    assert verdicts == {"solved": False, "ratio": False}
    assert any("wall time to solve IQM inf s" in line for line in lines)


def test_a_variant_is_compared_with_sb3_but_only_the_course_is_judged(bench: ModuleType) -> None:
    found = {
        bench.COURSE: runs(bench, [30.0 + i for i in range(20)]),
        "course DQN (double=false)": runs(bench, [10.0 + i % 3 for i in range(20)]),
        bench.SB3: runs(bench, [40.0 + i for i in range(20)]),
    }
    lines, verdicts = bench.report(found, 50_000)
    assert verdicts["ratio"] is False
    assert any(line.startswith("  course DQN (double=false) / SB3") for line in lines)


def test_runs_are_written_appended_and_summarized(bench: ModuleType, tmp_path: Path) -> None:
    threads = torch.get_num_threads()
    out = str(tmp_path / "runs.csv")
    common = ["--max-steps", "1100", "--eval-every", "550", "--no-sb3", "--out", out]
    try:
        first = bench.main(["--seeds", "0", *common])
        both = bench.main(["--seeds", "1", "--append", *common])
    finally:
        torch.set_num_threads(threads)
    (run,) = first[bench.COURSE]
    assert run.steps <= 1100 and run.wall_seconds > 0
    assert run.solved_at is None or run.solved_at % 550 == 0
    assert len(both[bench.COURSE]) == 2
    again = bench.main(["--summary", "--out", out])[bench.COURSE]
    assert [(r.solved_at, r.steps) for r in again] == [
        (r.solved_at, r.steps) for r in both[bench.COURSE]
    ]
    assert [r.wall_seconds for r in again] == pytest.approx(
        [r.wall_seconds for r in both[bench.COURSE]], abs=0.01
    )
    assert Path(out).read_text().count("\n") == 3  # header and one row a seed


def test_the_sb3_runner_and_a_setting_run(bench: ModuleType) -> None:
    pytest.importorskip("stable_baselines3", reason="stable_baselines3 is not installed")
    threads = torch.get_num_threads()
    try:
        theirs = bench.run_sb3(0, 1_100, 550, 2)
        ours = bench.run_course(0, 1_100, 550, 2, {"hidden_sizes": [16], "double": False})
    finally:
        torch.set_num_threads(threads)
    assert ours.steps <= 1_100 and theirs.steps < 1_100 + 256  # SB3 collects 256 at a time
    for run in (theirs, ours):
        assert run.wall_seconds > 0 and 0 < run.final_score <= 500


def test_a_contenders_interval_does_not_depend_on_the_others(bench: ModuleType) -> None:
    found = {
        bench.COURSE: runs(bench, [10.0 + i for i in range(20)]),
        bench.SB3: runs(bench, [20.0 + 2 * i for i in range(20)]),
    }
    alone, _ = bench.report(found, 50_000)
    more, _ = bench.report(
        {**found, "a variant": runs(bench, [5.0 + i for i in range(20)])}, 50_000
    )
    assert set(alone) <= set(more)  # every line of the first summary, unchanged


def test_several_files_are_summarized_together(bench: ModuleType, tmp_path: Path) -> None:
    fields = ",".join(bench.CSV_FIELDS)
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text(f"{fields}\ncourse DQN,0,2000,2000,1.5,500.0,1.0,{{}}\n")
    second.write_text(f"{fields}\ncourse DQN,1,,50000,30.0,200.0,1.0,{{}}\n")
    found = bench.main(["--summary", str(first), str(second)])
    assert [r.solved_at for r in found[bench.COURSE]] == [2000, None]


def test_a_setting_runs_beside_the_unchanged_config(bench: ModuleType, tmp_path: Path) -> None:
    threads = torch.get_num_threads()
    out = tmp_path / "runs.csv"
    argv = ["--seeds", "0", "1", "--max-steps", "600", "--eval-every", "600", "--no-sb3"]
    try:
        found = bench.main([*argv, "--baseline", "--set", "hidden_sizes=[16]", "--out", str(out)])
    finally:
        torch.set_num_threads(threads)
    assert list(found) == [bench.COURSE, "course DQN (hidden_sizes=[16])"]
    lines = out.read_text().splitlines()[1:]
    assert [line.split(",")[:2] for line in lines] == [  # alternating, seed by seed
        [bench.COURSE, "0"],
        ["course DQN (hidden_sizes=[16])", "0"],
        [bench.COURSE, "1"],
        ["course DQN (hidden_sizes=[16])", "1"],
    ]
