import numpy as np
import pytest
import torch

from rlcourse import training
from rlcourse.toy_envs import ChainEnv
from rlcourse.training import (
    CheckpointError,
    CSVLogger,
    LivePlot,
    MetricLogger,
    evaluate,
    ewma,
    linear_schedule,
    load_checkpoint,
    moving_average,
    read_csv,
    rng_state,
    save_checkpoint,
    set_rng_state,
)


def test_schedule_and_ewma():
    assert linear_schedule(1.0, 0.0, 0, 5) == 0.0
    assert linear_schedule(1.0, 0.0, 4, -3) == 1.0
    assert ewma([1.0, 1.0, 1.0]).tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="alpha must be in"):
        ewma([1.0], alpha=0)


def test_evaluate_is_seeded_and_counts_returns():
    env = ChainEnv(4, max_steps=10)
    assert evaluate(lambda obs: 1, env, 3, seed=0).tolist() == [1.0, 1.0, 1.0]
    assert evaluate(lambda obs: 0, env, 2, seed=0).tolist() == [0.0, 0.0]  # truncated
    with pytest.raises(ValueError, match="episodes must be positive"):
        evaluate(lambda obs: 0, env, 0, seed=0)


def test_csv_logger_round_trip_truncate_and_header_check(tmp_path):
    log = CSVLogger(tmp_path / "log.csv", ["step", "loss"])
    for step in (10, 20, 30):
        log.write(step=step, loss=step / 10)
    log.write(step=40)
    columns = read_csv(tmp_path / "log.csv")
    assert columns["step"].tolist() == [10, 20, 30, 40] and np.isnan(columns["loss"][-1])
    log.truncate_after(20)
    assert read_csv(tmp_path / "log.csv")["step"].tolist() == [10, 20]
    with pytest.raises(ValueError, match="unknown CSV columns"):
        log.write(steps=1)
    with pytest.raises(ValueError, match="has columns"):
        CSVLogger(tmp_path / "log.csv", ["step", "reward"])


def test_live_plot_outside_a_notebook_draws_nothing_but_can_make_a_figure():
    plot = LivePlot(["episode_return", "epsilon"])
    for step in range(5):
        plot.add(step, episode_return=float(step), epsilon=1.0 - step / 10, unknown=3.0)
    plot.add(5, episode_return=float("nan"))
    assert len(plot.data["episode_return"]) == 5
    figure = plot.figure()
    assert len(figure.axes) == 2
    plot.draw()  # a no-op outside notebooks


def test_checkpoint_is_atomic_when_saving_fails(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"version": 1, "weights": torch.ones(3), "array": np.arange(4)})

    def broken_save(obj, file):
        with open(file, "wb") as handle:
            handle.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(training.torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"version": 2})
    assert load_checkpoint(path)["version"] == 1, "the previous checkpoint must survive"
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"], "no temporary files left"


def test_checkpoint_expectations_and_rng_state(tmp_path):
    rng = np.random.default_rng(7)
    rng.random(3)
    path = save_checkpoint(tmp_path / "c.pt", {"algo": "dqn", "rng": rng_state(rng)})
    payload = load_checkpoint(path, expect={"algo": "dqn"})
    restored = np.random.default_rng(0)
    set_rng_state(restored, payload["rng"])
    assert restored.random() == rng.random()
    with pytest.raises(CheckpointError, match="saved for algo='dqn', but algo='a2c' is needed"):
        load_checkpoint(path, expect={"algo": "a2c"})
    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="holds a list"):
        load_checkpoint(tmp_path / "list.pt")


def test_moving_average_matches_the_plain_definition_and_skips_nans():
    rng = np.random.default_rng(0)
    values = rng.normal(size=50)
    values[[0, 1, 7, 30]] = np.nan
    for window in (1, 3, 10, 100):
        expected = [
            np.nanmean(values[max(0, i - window + 1) : i + 1])
            if not np.all(np.isnan(values[max(0, i - window + 1) : i + 1]))
            else np.nan
            for i in range(len(values))
        ]
        np.testing.assert_allclose(moving_average(values, window), expected)
    assert moving_average([], 5).shape == (0,)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="window must be a positive int"):
            moving_average([1.0], bad)


def test_metric_logger_episodes_csv_resume_and_plot(tmp_path):
    metrics = MetricLogger(tmp_path / "log.csv", window=2)
    for _ in range(3):  # episode 1: no updates yet
        metrics.log_step(1.0)
    first = metrics.log_episode(3)
    assert first["loss"] is None and first["q_mean"] is None and first["episode_length"] == 3
    metrics.log_step(0.0, loss=1.0, q_mean=4.0)
    metrics.log_step(2.0, loss=3.0, q_mean=6.0)
    second = metrics.log_episode(5)
    assert (second["episode_return"], second["loss"], second["q_mean"]) == (2.0, 2.0, 5.0)
    metrics.log_evaluation(5, mean=7.0, std=1.0)
    metrics.log_step(5.0)
    metrics.log_episode(6)
    assert metrics.moving_average("episode_return").tolist() == [3.0, 2.5, 3.5]
    assert np.isnan(metrics.moving_average("loss")[0])

    again = MetricLogger(tmp_path / "log.csv", window=2)
    again.resume(5)  # a checkpoint at step 5: the episode ending at 6 is dropped
    assert again.history["step"] == [3.0, 5.0]
    assert again.history["episode_return"] == [3.0, 2.0]
    assert again.evaluations == [(5, 7.0, 1.0)]
    assert read_csv(tmp_path / "log.csv")["step"].tolist() == [3.0, 5.0, 5.0]

    figure = again.plot(tmp_path / "metrics.png", title="test", baselines={"random": 5.0})
    assert [ax.get_title() for ax in figure.axes][-1] == "evaluation score"  # 4 + evaluations
    assert "random (5)" in figure.axes[-1].get_legend_handles_labels()[1]
    read_back = MetricLogger.from_csv(tmp_path / "log.csv", window=2)
    for name, values in again.history.items():
        np.testing.assert_array_equal(read_back.history[name], values)  # NaNs included
    assert read_back.evaluations == again.evaluations
    assert read_back.csv is None  # reading a log never writes to it
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a metrics log"):
        MetricLogger.from_csv(tmp_path / "other.csv")
    assert (tmp_path / "metrics.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="unknown metric 'reward'"):
        again.moving_average("reward")
