"""The ablation files: written and read back, summarised, drawn; foreign files refused."""

import numpy as np
import pytest

from rlcourse.studies.ablation import Variant, plot_ablation, read_ablation, summary, write_ablation


def _variants():
    log = {
        "step": np.array([100.0, 250.0, 400.0]),
        "episode_return": np.array([1.0, 3.0, 2.0]),
        "wall_seconds": np.array([1.5, 3.0, 4.5]),
    }
    return [
        Variant("random", "random play", 0, 0.0, np.array([200.0, 400.0]), "random actions"),
        Variant("dqn", "DQN", 400, 0.1, np.array([500.0, 700.0, 900.0]), "rlcourse train", log),
    ]


def test_written_and_read_back(tmp_path):
    write_ablation(_variants(), tmp_path / "log.csv", tmp_path / "scores.csv")
    again = read_ablation(tmp_path / "log.csv", tmp_path / "scores.csv")
    assert [v.name for v in again] == ["random", "dqn"]
    random_play, dqn = again
    assert random_play.log["step"].size == 0 and random_play.steps == 0
    np.testing.assert_array_equal(dqn.scores, [500.0, 700.0, 900.0])
    np.testing.assert_array_equal(dqn.log["episode_return"], [1.0, 3.0, 2.0])
    assert (dqn.label, dqn.steps, dqn.command) == ("DQN", 400, "rlcourse train")
    table = summary(again)
    assert "700.0 +- 163.3 (3)" in table and "300.0 +- 100.0 (2)" in table


def _with_evaluations():
    random_play, dqn = _variants()
    dqn.evaluations = {
        "step": np.array([200.0, 400.0]),
        "wall_seconds": np.array([120.0, 240.0]),
        "eval_mean": np.array([450.0, 800.0]),
    }
    return [random_play, dqn]


def test_evaluations_during_training_are_kept_beside_the_episodes(tmp_path):
    log, scores = tmp_path / "log.csv", tmp_path / "scores.csv"
    write_ablation(_variants(), log, scores)
    assert log.read_text().splitlines()[0] == "variant,step,episode_return,wall_seconds"
    assert read_ablation(log, scores)[1].evaluations == {}  # none kept: the old format
    write_ablation(_with_evaluations(), log, scores)
    assert log.read_text().splitlines()[-1] == "dqn,400,,240.0,800"
    random_play, dqn = read_ablation(log, scores)
    assert random_play.evaluations == {}
    np.testing.assert_array_equal(dqn.evaluations["eval_mean"], [450.0, 800.0])
    np.testing.assert_array_equal(dqn.evaluations["wall_seconds"], [120.0, 240.0])
    np.testing.assert_array_equal(dqn.log["episode_return"], [1.0, 3.0, 2.0])  # episodes only


def test_the_evaluations_are_drawn_against_training_minutes(tmp_path):
    figure = plot_ablation(_with_evaluations(), curves="evaluations")
    curves, _ = figure.axes
    (line,) = curves.lines
    np.testing.assert_array_equal(line.get_xdata(), [2.0, 4.0])  # minutes
    np.testing.assert_array_equal(line.get_ydata(), [450.0, 800.0])
    assert "minutes" in curves.get_xlabel()
    with pytest.raises(ValueError, match="needs variants that kept their evaluations"):
        plot_ablation(_variants(), curves="evaluations")
    with pytest.raises(ValueError, match="got 'steps'"):
        plot_ablation(_variants(), curves="steps")


def test_plot_has_the_curves_and_one_bar_per_variant(tmp_path):
    figure = plot_ablation(
        _variants(), tmp_path / "ablation.png", baselines={"DER": 1187}, window=2
    )
    curves, bars = figure.axes
    assert len(curves.lines) == 1  # random play has no training curve
    assert len(bars.patches) == 2 and bars.get_lines()[-1].get_ydata()[0] == 1187
    assert (tmp_path / "ablation.png").stat().st_size > 1000


def test_foreign_files_are_refused_with_their_columns(tmp_path):
    (tmp_path / "log.csv").write_text("step,episode_return\n1,2\n")
    (tmp_path / "scores.csv").write_text("x\n")
    with pytest.raises(ValueError, match=r"not an ablation file: its columns are \['step'"):
        read_ablation(tmp_path / "log.csv", tmp_path / "scores.csv")
    with pytest.raises(ValueError, match="at least one variant"):
        plot_ablation([])


def test_a_finished_run_becomes_a_variant_and_an_unfinished_one_is_named(tmp_path, capsys):
    from rlcourse.cli import main
    from rlcourse.studies.ablation import evaluate_run

    run = tmp_path / "runs" / "cartpole"
    assert (
        main(
            [
                "train",
                "dqn",
                "--env",
                "CartPole-v1",
                "--total-steps",
                "300",
                "--seed",
                "3",
                "--eval-every",
                "150",
                "--eval-episodes",
                "2",
                "--no-progress",
                "--out",
                str(run),
            ]
        )
        == 0
    )
    capsys.readouterr()
    random_play, trained = evaluate_run(run, "cp", "CartPole", episodes=3, vs_random=True)
    assert (random_play.name, random_play.steps, random_play.log) == ("random", 0, {})
    assert (trained.name, trained.label, trained.steps) == ("cp", "CartPole", 300)
    assert len(trained.scores) == len(random_play.scores) == 3
    assert trained.command.startswith("rlcourse train dqn --env CartPole-v1")
    assert trained.command.endswith("--out runs/cartpole")  # relative to the runs' folder
    assert trained.log["step"][-1] <= 300 and np.all(trained.log["episode_return"] > 0)
    np.testing.assert_array_equal(trained.evaluations["step"], [150, 300])
    assert np.all(np.diff(trained.evaluations["wall_seconds"]) > 0)
    with pytest.raises(FileNotFoundError, match="final.pt is missing: the run has not finished"):
        evaluate_run(tmp_path / "runs" / "none", "none", "none")


def _run(name, scores):
    return Variant(name, name, 100, 1.0, np.asarray(scores, float), "rlcourse train")


def test_game_intervals_give_each_run_an_iqm_its_interval_and_its_best_game():
    from rlcourse.studies.ablation import game_intervals

    lines = game_intervals([_run("steady", [100] * 10), _run("lucky", [100] * 9 + [3_500])])
    steady, lucky = lines.splitlines()[1:]
    assert "IQM 100 [95% CI 100-100]" in steady and steady.endswith("100")
    assert "IQM 100 " in lucky and lucky.endswith("3,500")  # one big game: not in the IQM


def test_seed_intervals_need_three_seeds_and_then_pool_seeds_and_games():
    from rlcourse.studies.ablation import seed_intervals

    two = seed_intervals({"game": [_run("s0", [1, 2, 3]), _run("s1", [4, 5, 6])]})
    assert "2 seeds" in two and "fewer than 3" in two and "CI" not in two
    runs = [_run(f"s{seed}", [10 * seed + g for g in range(4)]) for seed in range(4)]
    four = seed_intervals({"game": runs})
    assert "4 seeds: IQM" in four and "95% CI" in four and "(each: 2, 12, 22, 32)" in four


def test_seed_difference_needs_three_seeds_a_side():
    from rlcourse.studies.ablation import seed_difference

    high = [_run(f"h{s}", [900 + s] * 5) for s in range(3)]
    low = [_run(f"l{s}", [400 + s] * 5) for s in range(3)]
    assert seed_difference(high, low[:2], ("A", "B")) == (
        "A against B: fewer than 3 runs of one of them, no comparison"
    )
    assert seed_difference(high, low, ("A", "B")).startswith("A minus B: IQM difference 500 ")
