"""experiments/ppo_kungfu_seeds.py (lesson 10's results): its commands are lesson 10's PPO and
lesson 09's A2C at the same budget, seed by seed; collect scores what finished, keeps what was
shipped, compares only with 3 runs a method, and names the median PPO seed."""

import shlex

import numpy as np
from conftest import load_script

from rlcourse.cli import build_parser
from rlcourse.studies.ablation import Variant, read_ablation

script = load_script("experiments/ppo_kungfu_seeds")


def _args(method, seed):
    return build_parser().parse_args(
        shlex.split(script.command(method, seed, script.Path("r")))[1:]
    )


def test_both_methods_get_the_same_budget_and_anneal_over_their_run():
    for method in script.METHODS:
        for seed in script.SEEDS:
            args = _args(method, seed)
            assert (args.algo, args.env, args.seed) == (method, "ALE/KungFuMaster-v5", seed)
            assert (args.max_minutes, args.threads) == (60, 1)  # one core, one hour
            assert args.lr_decay_steps == args.total_steps
            assert args.out == script.Path("r") / f"{method}_s{seed}"
    assert _args("a2c", 0).rollout_length == 5 and _args("a2c", 0).vectorization == "ale"


def test_the_ppo_command_is_the_one_lesson_10_documents():
    documented = (script.ROOT / "docs" / "results.md").read_text().replace("\\\n   ", "")
    options = script.METHODS["ppo"].options.split()
    for flag, value in zip(options[::2], options[1::2], strict=True):
        assert f"{flag} {value}" in documented


def _run(name, mean, games=20):
    return Variant(name, name, 1_000_000, 60.0, np.full(games, float(mean)), "cmd")


def test_compare_needs_three_runs_of_each_method():
    ppo = [_run(f"ppo_s{s}", 9_000 + 1_000 * s) for s in range(3)]
    a2c = [_run(f"a2c_s{s}", 8_000) for s in range(2)]
    text = script.compare([_run("random", 400), *ppo, *a2c])
    assert "PPO: 3 seeds" in text and "fewer than 3, no interval" in text
    assert "no comparison" in text.splitlines()[-1]
    text = script.compare([*ppo, *a2c, _run("a2c_s2", 8_000)])
    assert text.splitlines()[-1].startswith("PPO minus A2C: IQM difference 2,000")  # 10,000 - 8,000


def test_collect_scores_the_finished_runs_and_names_the_median_ppo_seed(
    tmp_path, monkeypatch, capsys
):
    from rlcourse.studies import ablation

    shipped = (tmp_path / "log.csv", tmp_path / "scores.csv")
    log = {"step": np.array([5.0]), "episode_return": np.array([1.0]), "wall_seconds": np.ones(1)}
    tested = {"step": np.array([5.0]), "wall_seconds": np.ones(1), "eval_mean": np.array([2.0])}
    old = Variant("a2c_s1", "A2C (lesson 09), seed 1", 4_000_000, 60.0, np.full(20, 7.0), "a", log)
    old.evaluations = tested
    ablation.write_ablation([old], *shipped)
    monkeypatch.setattr(script, "SHIPPED", shipped)
    runs = tmp_path / "runs"
    for seed in (0, 1, 2):
        (runs / f"ppo_s{seed}").mkdir(parents=True)
        (runs / f"ppo_s{seed}" / "final.pt").touch()
    means = {"ppo_s0": 12_000.0, "ppo_s1": 9_000.0, "ppo_s2": 10_000.0}

    def evaluate_run(run, name, label, *, episodes, vs_random):
        assert vs_random == (run.name == "ppo_s0")  # random play beside the first run only
        agent = Variant(name, label, 1_000_000, 60.0, np.full(episodes, means[name]), "p", log)
        agent.evaluations = tested
        return [Variant("random", "", 0, 0.0, np.full(episodes, 400.0), "r"), agent][
            -1 - vs_random :
        ]

    monkeypatch.setattr(ablation, "evaluate_run", evaluate_run)
    collected = script.collect(runs, 20, tmp_path)
    assert [v.name for v in collected] == ["random", "ppo_s0", "ppo_s1", "ppo_s2", "a2c_s1"]
    shipped_again = read_ablation(*shipped)
    assert [v.name for v in shipped_again] == [v.name for v in collected]
    assert all(v.evaluations for v in shipped_again if v.name != "random")  # the figure's curves
    assert (tmp_path / "ppo_kungfu_seeds.png").stat().st_size > 0
    printed = capsys.readouterr().out
    assert "a2c_s0" in printed and "a2c_s1: not in" in printed  # named missing / kept
    assert "the median PPO seed is 2" in printed  # 9,000 < 10,000 < 12,000
