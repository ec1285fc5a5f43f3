import numpy as np
import pytest
import torch

from rlcourse import training
from rlcourse.toy_envs import ChainEnv
from rlcourse.training import (
    CheckpointError,
    CSVLogger,
    LivePlot,
    evaluate,
    ewma,
    linear_schedule,
    load_checkpoint,
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
