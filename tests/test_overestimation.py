import csv
from pathlib import Path

import numpy as np
import pytest

import rlcourse
from rlcourse.evaluation import evaluate
from rlcourse.studies import overestimation
from rlcourse.studies.overestimation import (
    MaximizationBiasEnv,
    StudyConfig,
    plot_overestimation,
    run_study,
    write_csv,
)

PRETRAINED = Path(rlcourse.__file__).parent / "pretrained"


def _b_path_rewards(env: MaximizationBiasEnv, episodes: int, seed: int) -> np.ndarray:
    """Every reward of ``episodes`` trips through the B states (action 1 everywhere)."""
    rewards = []
    for episode in range(episodes):
        env.reset(seed=seed if episode == 0 else None)
        done = False
        while not done:
            _, reward, done, truncated, _ = env.step(1)
            assert not truncated
            rewards.append(reward)
    return np.array(rewards)


def test_env_spaces_and_observations():
    env = MaximizationBiasEnv(n_actions=5, length=3)
    assert env.action_space.n == 5
    assert env.observation_space.shape == (4,) and env.observation_space.dtype == np.float32
    obs, info = env.reset(seed=0)
    assert obs.tolist() == [1.0, 0.0, 0.0, 0.0] and info == {}
    for state in (1, 2, 3):
        obs, *_ = env.step(2)
        assert obs.tolist() == np.eye(4)[state].tolist()
        assert env.observation_space.contains(obs)
    obs, _, terminated, _, _ = env.step(0)  # in B, action 0 moves on like the others
    assert terminated and obs.tolist() == [0.0] * 4


def test_env_exit_ends_at_once_with_zero_and_b_path_has_length_steps():
    env = MaximizationBiasEnv(n_actions=4, length=3)
    env.reset(seed=0)
    assert env.step(0)[1:4] == (0.0, True, False)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)
    env.reset()
    first = env.step(3)
    assert first[1:4] == (0.0, False, False)  # A -> B_1 pays nothing
    dones = [env.step(1)[2] for _ in range(3)]
    assert dones == [False, False, True]
    with pytest.raises(ValueError, match="got 4"):
        env.reset()
        env.step(4)


def test_env_reward_statistics_match_the_arguments():
    env = MaximizationBiasEnv(n_actions=3, reward_mean=-0.1, reward_std=1.0, length=2)
    rewards = _b_path_rewards(env, 4_000, seed=1)
    noisy = rewards.reshape(-1, 3)[:, 1:]  # the A -> B_1 step pays exactly 0
    assert (rewards.reshape(-1, 3)[:, 0] == 0).all()
    assert noisy.mean() == pytest.approx(-0.1, abs=0.03)
    assert noisy.std() == pytest.approx(1.0, rel=0.05)
    assert env.path_value(0.5) == pytest.approx(-0.1 * (0.5 + 0.25))
    assert env.optimal_value(0.5) == 0.0
    assert MaximizationBiasEnv(reward_mean=0.2).optimal_value(0.9) == pytest.approx(0.18)


def test_env_seeding_is_deterministic():
    a = _b_path_rewards(MaximizationBiasEnv(length=2), 20, seed=7)
    b = _b_path_rewards(MaximizationBiasEnv(length=2), 20, seed=7)
    c = _b_path_rewards(MaximizationBiasEnv(length=2), 20, seed=8)
    assert a.tolist() == b.tolist() and a.tolist() != c.tolist()


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"n_actions": 1}, ValueError, "n_actions must be >= 2, got 1"),
        ({"n_actions": 2.5}, TypeError, r"n_actions must be an int, got 2.5 \(float\)"),
        ({"length": 0}, ValueError, "length must be >= 1, got 0"),
        ({"reward_std": -1.0}, ValueError, "reward_std must be >= 0, got -1.0"),
        ({"reward_std": float("inf")}, ValueError, "reward_std must be a finite number, got inf"),
        ({"reward_mean": float("nan")}, ValueError, "reward_mean must be a number, got nan"),
    ],
)
def test_env_bad_arguments_say_what_was_given(kwargs, error, message):
    with pytest.raises(error, match=message):
        MaximizationBiasEnv(**kwargs)


def test_evaluate_discounts_every_reward():
    env = MaximizationBiasEnv(reward_mean=1.0, reward_std=0.0, length=2)
    assert evaluate(lambda obs: 1, env, 3, seed=0, gamma=0.5).tolist() == [0.75] * 3
    assert evaluate(lambda obs: 0, env, 2, seed=0, gamma=0.5).tolist() == [0.0] * 2
    with pytest.raises(ValueError, match="episodes must be >= 1, got 0"):
        evaluate(lambda obs: 0, env, 0, seed=0, gamma=0.5)


def test_study_config_checks_its_fields():
    with pytest.raises(ValueError, match="StudyConfig.total_steps must be >= 1, got 0"):
        StudyConfig(total_steps=0)
    with pytest.raises(ValueError, match="record_every=500 exceeds total_steps=100"):
        StudyConfig(total_steps=100, record_every=500)
    with pytest.raises(ValueError, match="learning_starts=10 is below batch_size=32"):
        StudyConfig(learning_starts=10)
    with pytest.raises(ValueError, match="n_actions"):
        StudyConfig(n_actions=1)
    config = StudyConfig()
    dqn, double = config.dqn_config(False, 3), config.dqn_config(True, 3)
    assert (dqn.double, double.double, dqn.seed) == (False, True, 3)
    assert dqn.to_dict() | {"double": True} == double.to_dict()  # only the target differs


def test_study_result_shapes_csv_and_plot(tmp_path):
    config = StudyConfig(
        seeds=(0, 1),
        total_steps=60,
        record_every=20,
        eval_episodes=10,
        batch_size=8,
        learning_starts=20,
    )
    result = run_study(config, progress=False)
    assert result.algos == ("DQN", "Double DQN")
    assert result.steps.tolist() == [0, 20, 40, 60]
    assert result.seeds.tolist() == [0, 1]
    assert result.predicted.shape == result.actual.shape == (2, 2, 4)
    assert np.isfinite(result.predicted).all() and np.isfinite(result.actual).all()
    # Same seed, same initial network: both algorithms start from the same prediction.
    assert result.predicted[0, :, 0].tolist() == result.predicted[1, :, 0].tolist()
    assert result.optimal == 0.0 and result.wall_seconds > 0
    assert set(result.means(last=2)) == {"DQN", "Double DQN"}

    with (write_csv(result, tmp_path / "o.csv")).open() as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 2 * 2 * 4
    assert list(rows[0]) == ["step", "algo", "seed", "predicted", "actual"]
    assert float(rows[-1]["predicted"]) == pytest.approx(result.predicted[1, 1, 3], abs=1e-4)

    figure = plot_overestimation(result, tmp_path / "o.png")
    assert (tmp_path / "o.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ax = figure.axes[0]
    assert "Overestimation" in ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    styles = [line.get_linestyle() for line in ax.get_lines()]
    assert styles.count("--") == 2  # the returns actually obtained, one per algorithm


def test_cli_writes_csv_and_png_in_smoke_mode(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RLCOURSE_SMOKE", "1")
    overestimation.main(["--out", str(tmp_path), "--seeds", "0", "--no-progress"])
    assert (tmp_path / "overestimation.csv").exists()
    assert (tmp_path / "overestimation.png").exists()
    out = capsys.readouterr().out
    assert "DQN" in out and "Double DQN" in out and "predicted" in out


def test_dqn_overestimates_more_than_double_dqn():
    """The study's claim on a small fixed budget (~10 CPU-seconds): DQN's prediction exceeds
    the return it obtains by more than Double DQN's does, on average and on every seed
    (deterministic: fixed seeds, one CPU thread)."""
    config = StudyConfig(seeds=(0, 1), total_steps=1_500, record_every=300, eval_episodes=300)
    result = run_study(config, progress=False)
    gap = {algo: predicted - actual for algo, (predicted, actual) in result.means(3).items()}
    assert gap["DQN"] > gap["Double DQN"] + 0.2, gap
    per_seed = (result.predicted - result.actual)[:, :, -3:].mean(axis=2)  # [algo, seed]
    assert (per_seed[0] > per_seed[1]).all(), per_seed


def test_study_csv_round_trip(tmp_path):
    from rlcourse.studies.overestimation import read_study_csv, write_csv

    steps = np.array([0, 100])
    values = np.arange(8, dtype=float).reshape(2, 2, 2) / 10
    result = overestimation.StudyResult(
        algos=("DQN", "Double DQN"),
        seeds=np.array([3, 7]),
        steps=steps,
        predicted=values,
        actual=-values,
        optimal=0.0,
        corridor=-0.5,
        wall_seconds=1.0,
        cpu_seconds=1.0,
    )
    back = read_study_csv(write_csv(result, tmp_path / "study.csv"))
    assert back.algos == result.algos and back.seeds.tolist() == [3, 7]
    np.testing.assert_allclose(back.predicted, values)
    np.testing.assert_allclose(back.actual, -values)
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not an overestimation study CSV"):
        read_study_csv(tmp_path / "other.csv")


def _study(predicted, actual):
    predicted, actual = np.asarray(predicted, float), np.asarray(actual, float)
    return overestimation.StudyResult(
        algos=("DQN", "Double DQN"),
        seeds=np.arange(predicted.shape[1]),
        steps=np.arange(predicted.shape[2]) * 100,
        predicted=predicted,
        actual=actual,
        optimal=0.0,
        corridor=-0.5,
        wall_seconds=1.0,
        cpu_seconds=1.0,
    )


def test_compare_gives_intervals_over_seeds_and_says_what_they_separate():
    seeds = np.arange(5)[:, None] * 0.01
    apart = _study(
        [1.0 + seeds + np.zeros((5, 3)), 0.5 + seeds + np.zeros((5, 3))], np.zeros((2, 5, 3))
    )
    gaps = apart.overestimates()
    np.testing.assert_allclose(gaps["DQN"] - gaps["Double DQN"], 0.5)
    text = overestimation.compare(apart)
    assert "5 seeds" in text and "IQM" in text and "95% CI" in text
    assert "the interval separates them" in text and "larger on 5 of 5 seeds" in text
    noise = np.random.default_rng(0).normal(size=(2, 5, 3))
    assert "the interval holds 0" in overestimation.compare(_study(noise, np.zeros((2, 5, 3))))
    two = overestimation.compare(_study(np.ones((2, 2, 3)), np.zeros((2, 2, 3))))
    assert "too few to compare" in two and "CI" not in two


def test_the_shipped_study_is_found_by_name():
    """Lesson 06 reads it in Colab too: it ships in the package, not in bench/results."""
    study = overestimation.shipped_study()
    assert study.algos == ("DQN", "Double DQN") and len(study.seeds) == 5
    gaps = study.overestimates()
    assert (gaps["DQN"] > gaps["Double DQN"]).all()
