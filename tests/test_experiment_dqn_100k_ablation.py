"""Lessons 06 and 07's experiment scripts. experiments/dqn_100k_ablation.py: its commands make
the configs the lesson says they do (one idea added per variant, the last the atari100k preset),
and the shipped files agree. experiments/dqn_100k_seeds.py: its commands are the preset, seed
by seed. experiments/mario_ddqn.py: its two runs differ only in Double DQN."""

import pytest
from conftest import config_differences, dqn_config_of, load_script

from rlcourse import pretrained
from rlcourse.agents.dqn import atari_100k_config
from rlcourse.studies.ablation import read_ablation

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
        assert mine[0] == f"{game}_random" and f"{game}_s0" in mine
        assert set(mine[1:]) <= {seeds.run_name(game, seed) for seed in seeds.SEEDS}
    for run in runs:
        assert len(run.scores) == 20
        if run.name.endswith("_random"):
            assert run.steps == 0
        else:
            assert run.steps == 100_000 and "--seed" in run.command and len(run.log["step"]) > 100


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
    ("name", "runs"), [("dqn_100k_ablation", 5), ("dqn_100k_seeds", 4), ("mario_ddqn", 2)]
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
