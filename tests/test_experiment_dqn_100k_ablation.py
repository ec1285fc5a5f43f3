"""Lessons 06 and 07's experiment scripts. experiments/dqn_100k_ablation.py: its commands make
the configs the lesson says they do (one idea added per variant, the last the atari100k preset),
and the shipped files agree. experiments/dqn_100k_seeds.py: its commands are the preset, seed
by seed. experiments/mario_ddqn.py: its two runs differ only in Double DQN."""

import numpy as np
import pytest
from conftest import config_differences, dqn_config_of, load_script

from rlcourse import pretrained
from rlcourse.agents.dqn import atari_100k_config
from rlcourse.studies.ablation import Variant, read_ablation

ablation = load_script("experiments/dqn_100k_ablation")
seeds = load_script("experiments/dqn_100k_seeds")


def test_each_variant_adds_one_idea_and_the_last_is_the_preset():
    names = list(ablation.VARIANTS)
    configs = [dqn_config_of(ablation.command(name, ablation.Path("runs"))) for name in names]
    assert configs[-1] == atari_100k_config(seed=0)
    added = [config_differences(a, b) for a, b in zip(configs, configs[1:], strict=False)]
    assert added == [{"dueling"}, {"n_step"}, {"random_shift"}, {"train_frequency"}]
    assert configs[0].train_frequency == 4 and configs[-1].train_frequency == 2
    assert (configs[0].n_step, configs[0].random_shift, configs[0].dueling) == (1, 0, False)


def test_the_shipped_files_hold_every_variant_and_random_play():
    variants = read_ablation(
        pretrained.path("dqn_100k_ablation_log.csv"),
        pretrained.path("dqn_100k_ablation_scores.csv"),
    )
    assert [v.name for v in variants] == ["random", *ablation.VARIANTS]
    for v in variants[1:]:
        assert v.steps == 100_000 and len(v.scores) == 20
        assert v.log["step"][-1] <= 100_000 and len(v.log["step"]) > 100


def test_the_seed_runs_are_the_preset_with_their_seed_on_both_games():
    for game, (env_id, _) in seeds.GAMES.items():
        for seed in seeds.SEEDS:
            command = seeds.command(game, seed, seeds.Path("runs"))
            assert dqn_config_of(command) == atari_100k_config(seed=seed)
            assert f"--env {env_id} " in command and command.endswith(f"runs/{game}_s{seed}")


def test_the_shipped_seed_runs_hold_random_play_and_the_finished_runs_of_each_game():
    runs = read_ablation(
        pretrained.path("dqn_100k_seeds_log.csv"), pretrained.path("dqn_100k_seeds_scores.csv")
    )
    names = [run.name for run in runs]
    for game in seeds.GAMES:
        mine = [name for name in names if name.startswith(f"{game}_")]
        assert mine[0] == f"{game}_random" and len(mine) == 1 + len(seeds.SEEDS)
        assert set(mine[1:]) <= {seeds.run_name(game, seed) for seed in seeds.SEEDS}
    for run in runs:
        assert len(run.scores) == 20
        if run.name.endswith("_random"):
            assert run.steps == 0
        else:
            assert run.steps == 100_000 and "--seed" in run.command and len(run.log["step"]) > 100


def test_the_median_seed_is_the_middle_run_by_mean_score():
    def run(name, mean):
        return Variant(name, name, 100_000, 1.0, np.full(20, float(mean)), "")

    runs = [run("kungfu_random", 300), run("kungfu_s0", 50), run("kungfu_s1", 900)]
    runs += [run("kungfu_s2", 400), run("mspacman_s0", 10), run("mspacman_s1", 5)]
    assert seeds.median_seed(runs, "kungfu") == 2  # random play is not a seed
    assert seeds.median_seed(runs, "mspacman") == 1  # even count: the lower middle
    with pytest.raises(ValueError, match="no run of 'pong'"):
        seeds.median_seed(runs, "pong")


def test_collect_keeps_the_shipped_rows_of_runs_it_does_not_have(tmp_path, monkeypatch, capsys):
    from rlcourse.studies import ablation as module

    shipped = (tmp_path / "log.csv", tmp_path / "scores.csv")
    old = [
        Variant(
            f"{game}_{which}",
            which,
            100_000,
            1.0,
            np.full(20, 7.0),
            "old",
            {
                "step": np.array([10.0]),
                "episode_return": np.array([1.0]),
                "wall_seconds": np.array([1.0]),
            },
        )
        for game in seeds.GAMES
        for which in ("random", "s0", "s1")
    ]
    module.write_ablation(old, *shipped)
    monkeypatch.setattr(seeds, "SHIPPED", shipped)
    runs = tmp_path / "runs"
    (runs / "kungfu_s2").mkdir(parents=True)
    (runs / "kungfu_s2" / "final.pt").touch()

    def evaluate_run(run, name, label, *, episodes, vs_random):
        # the first run it plays brings random play on the same games
        assert (run.name, episodes, vs_random) == ("kungfu_s2", 20, True)
        agent = Variant(name, label, 100_000, 2.0, np.full(20, 9.0), "new", old[1].log)
        return [Variant("random", "random play", 0, 0.0, np.full(20, 3.0), "random"), agent]

    monkeypatch.setattr(module, "evaluate_run", evaluate_run)
    collected = seeds.collect(runs, 20, tmp_path / "figures")
    names = [v.name for v in collected]
    assert names == [
        "mspacman_random",
        "mspacman_s0",
        "mspacman_s1",
        "kungfu_random",
        "kungfu_s0",
        "kungfu_s1",
        "kungfu_s2",
    ]
    assert [v.name for v in read_ablation(*shipped)] == names
    assert collected[-1].command == "new" and collected[4].command == "old"
    assert collected[3].command == "random" and collected[0].command == "old"
    printed = capsys.readouterr().out
    assert "mspacman_s2" in printed  # named as missing, with its command
    assert (
        "the median seed is 1" in printed
    )  # Kung-Fu: 7, 7, 9 -> seed 1 (the lower middle of ties)


mario = load_script("experiments/mario_ddqn")


def test_the_mario_runs_differ_only_in_double_dqn():
    ddqn, dqn = (dqn_config_of(mario.command(name, mario.Path("runs"))) for name in mario.RUNS)
    assert config_differences(ddqn, dqn) == {"double"} and ddqn.double and not dqn.double
    preset = atari_100k_config(seed=mario.SEED)
    # the target copied every 2,000 steps, not after every update: else Double DQN is DQN
    assert config_differences(ddqn, preset) == {"target_update_interval", "exploration_steps"}
    assert ddqn.target_update_interval == 2_000 > preset.target_update_interval
    for name in mario.RUNS:
        assert "--actions right_only" in mario.command(name, mario.Path("runs"))


def test_the_shipped_mario_runs_hold_random_play_both_agents_and_their_value_bias():
    runs = read_ablation(*mario.SHIPPED)
    assert [run.name for run in runs] == ["random", *mario.RUNS]
    for run in runs:
        assert len(run.scores) == 20 and (run.scores % 800 == 0).all()  # a kick is 800 points
    for run in runs[1:]:
        assert run.steps == 100_000 and len(run.log["step"]) > 100
        assert f"--double {mario.RUNS[run.name][0]} " in run.command
    biases = mario.read_value_bias()
    assert [row["variant"] for row in biases] == list(mario.RUNS)
    for row in biases:
        predicted, obtained = float(row["predicted"]), float(row["obtained"])
        assert float(row["overestimate"]) == pytest.approx(predicted - obtained, abs=1e-3)
        assert int(row["games"]) == 20 and int(row["steps_measured"]) > 1_000
        assert 0 <= obtained <= 1 / (1 - float(row["gamma"]))  # clipped rewards


@pytest.mark.parametrize(
    ("name", "runs"), [("dqn_100k_ablation", 5), ("dqn_100k_seeds", 6), ("mario_ddqn", 2)]
)
def test_each_script_prints_its_commands_and_collects_with_its_options(
    name, runs, tmp_path, capsys, monkeypatch
):
    script = load_script(f"experiments/{name}")
    script.main(["commands", "--runs", str(tmp_path)])
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == runs and all(line.startswith("rlcourse train dqn") for line in printed)
    assert all(str(tmp_path) in line for line in printed)
    calls = []
    monkeypatch.setattr(script, "collect", lambda *args: calls.append(args))
    script.main(["collect", "--runs", str(tmp_path), "--episodes", "3"])
    assert calls[0][:2] == (tmp_path, 3) and "results" in calls[0][2].parts
