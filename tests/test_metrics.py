"""Training metrics: the one log format, moving averages, CSV logs, MetricLogger."""

import math

import numpy as np
import pytest

from rlcourse.metrics import LOG_COLUMNS, CSVLogger, MetricLogger, ewma, moving_average, read_csv


def test_log_columns_are_one_set_for_every_algorithm():
    assert LOG_COLUMNS[:5] == [
        "step",
        "episode",
        "wall_seconds",
        "episode_return",
        "episode_length",
    ]
    for dqn in ("loss", "q_mean", "epsilon"):
        assert dqn in LOG_COLUMNS
    for a2c in ("policy_loss", "value_loss", "entropy", "grad_norm"):
        assert a2c in LOG_COLUMNS
    assert LOG_COLUMNS[-2:] == ["eval_mean", "eval_std"]
    assert len(set(LOG_COLUMNS)) == len(LOG_COLUMNS)


def test_ewma_and_moving_average():
    assert ewma([4.0, 0.0], alpha=0.25).tolist() == [4.0, 3.0]
    assert ewma([]).tolist() == []
    with pytest.raises(ValueError, match=r"alpha must be in \(0, 1\], got 0"):
        ewma([1.0], alpha=0)
    assert moving_average([1.0, 2.0, 3.0, 4.0], window=3).tolist() == [1.0, 1.5, 2.0, 3.0]
    # NaNs (no loss before learning starts) are skipped; an all-NaN window stays NaN
    averaged = moving_average([math.nan, math.nan, 2.0, 4.0, math.nan], window=2)
    assert np.isnan(averaged[:2]).all() and averaged[2:].tolist() == [2.0, 3.0, 4.0]
    with pytest.raises(ValueError, match="window must be >= 1, got 0"):
        moving_average([1.0], window=0)
    with pytest.raises(ValueError, match="1-D sequence"):
        moving_average(np.zeros((2, 2)))


def test_csv_logger_writes_a_header_once_and_checks_columns(tmp_path):
    path = tmp_path / "run" / "log.csv"
    logger = CSVLogger(path, ["step", "loss"])
    assert path.read_text() == "step,loss\n"  # readable before the first row
    assert read_csv(path) == {}
    logger.write(step=1, loss=0.123456789)
    logger.write(step=2)  # missing cells stay empty
    assert path.read_text().splitlines() == ["step,loss", "1,0.123457", "2,"]
    with pytest.raises(ValueError, match=r"unknown CSV columns \['lr'\]"):
        logger.write(step=3, lr=1.0)
    CSVLogger(path, ["step", "loss"]).write(step=3, loss=1.0)  # appending to the same log
    with pytest.raises(ValueError, match="has columns.*use another output directory"):
        CSVLogger(path, ["step", "entropy"])
    columns = read_csv(path)
    assert columns["step"].tolist() == [1.0, 2.0, 3.0]
    assert np.isnan(columns["loss"][1])
    logger.truncate_after(2)
    assert read_csv(path)["step"].tolist() == [1.0, 2.0]
    (tmp_path / "empty.csv").write_text("step,loss\n")
    assert read_csv(tmp_path / "empty.csv") == {}


def test_metric_logger_rows_history_and_csv(tmp_path):
    metrics = MetricLogger(tmp_path / "log.csv", window=2)
    metrics.log_step(1.0)  # before learning: no loss
    metrics.log_step(2.0)
    first = metrics.log_episode(step=2, episode=1, epsilon=0.9)
    assert (first["episode_return"], first["episode_length"], first["loss"]) == (3.0, 2, None)
    metrics.log_step(0.0, loss=1.0, q_mean=5.0)
    metrics.log_step(4.0, loss=3.0, q_mean=7.0)
    second = metrics.log_episode(step=4, episode=2)
    assert (second["loss"], second["q_mean"]) == (2.0, 6.0)  # means over the episode's updates
    metrics.log_evaluation(4, 10.0, 1.5, episode=2)
    assert metrics.history["episode_return"] == [3.0, 4.0]
    assert np.isnan(metrics.history["loss"][0])
    assert metrics.moving_average("episode_return").tolist() == [3.0, 3.5]
    assert metrics.evaluations == [(4, 10.0, 1.5)]
    log = read_csv(tmp_path / "log.csv")
    assert list(log) == LOG_COLUMNS
    assert log["episode_return"][:2].tolist() == [3.0, 4.0] and np.isnan(log["eval_mean"][0])
    assert log["eval_mean"][2] == 10.0 and np.isnan(log["episode_return"][2])
    with pytest.raises(ValueError, match="unknown metric 'entropy'"):
        metrics.moving_average("entropy")


def test_explicit_episode_metrics_for_parallel_games(tmp_path):
    """A2C counts its games' returns itself and passes them in."""
    metrics = MetricLogger(tmp_path / "log.csv")
    row = metrics.log_episode(
        step=160, episode_return=700.0, episode_length=40, loss=0.5, entropy=1.9, policy_loss=0.1
    )
    assert row["episode_return"] == 700.0 and row["episode_length"] == 40
    log = read_csv(tmp_path / "log.csv")
    assert log["entropy"].tolist() == [1.9] and log["policy_loss"].tolist() == [0.1]
    assert np.isnan(log["epsilon"][0])


def test_episode_state_carries_an_unfinished_episode():
    metrics = MetricLogger()
    metrics.log_step(2.0, loss=1.0)
    metrics.log_step(3.0)
    state = metrics.episode_state()
    other = MetricLogger()
    other.load_episode_state(state)
    other.log_step(1.0, loss=3.0)
    row = other.log_episode(step=3)
    assert (row["episode_return"], row["episode_length"], row["loss"]) == (6.0, 3, 2.0)


def test_resume_drops_later_rows_and_reloads_earlier_ones(tmp_path):
    path = tmp_path / "log.csv"
    metrics = MetricLogger(path)
    for step in (10, 20, 30):
        metrics.log_step(float(step))
        metrics.log_episode(step=step)
        metrics.log_evaluation(step, step * 2.0, 0.0)
    again = MetricLogger(path)
    again.resume(20)
    assert again.history["step"] == [10.0, 20.0]
    assert again.evaluations == [(10, 20.0, 0.0), (20, 40.0, 0.0)]
    assert read_csv(path)["step"].tolist() == [10.0, 10.0, 20.0, 20.0]
    back = MetricLogger.from_csv(path, window=5)
    assert back.history["episode_return"] == [10.0, 20.0] and back.window == 5
    assert back.csv is None  # reading writes nothing


def test_from_csv_refuses_other_logs_and_reads_logs_with_fewer_columns(tmp_path):
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a metrics log: no columns"):
        MetricLogger.from_csv(tmp_path / "other.csv")
    # the shipped DQN logs: a subset of LOG_COLUMNS, in another order
    (tmp_path / "old.csv").write_text(
        "step,episode,wall_seconds,episode_return,episode_length,epsilon,loss,q_mean,"
        "eval_mean,eval_std\n5,1,0.1,2,5,0.9,,,,\n5,1,0.1,,,,,,7,1\n"
    )
    metrics = MetricLogger.from_csv(tmp_path / "old.csv")
    assert metrics.history["episode_return"] == [2.0] and metrics.evaluations == [(5, 7.0, 1.0)]


def test_metric_logger_needs_its_columns():
    with pytest.raises(ValueError, match=r"needs the columns \['q_mean'\]"):
        MetricLogger(fields=["step", "episode_return", "episode_length", "loss"])
    with pytest.raises(ValueError, match="window must be >= 1, got 0"):
        MetricLogger(window=0)
