"""The run harness (rlcourse/training/harness.py): run directory, schedule, resume points,
training clock, Ctrl-C. The loops on it are tested in test_training.py, the end-to-end
exact resume in test_resume.py."""

import json
import signal
import threading
from dataclasses import asdict, dataclass

import numpy as np
import pytest
import torch

from rlcourse.checkpoints import CheckpointError, load_checkpoint, make_checkpoint
from rlcourse.metrics import LOG_COLUMNS, read_csv
from rlcourse.training import harness
from rlcourse.training.harness import Run, check_run_directory, progress_bar


@dataclass
class Config:
    lr: float = 0.1
    hidden_sizes: tuple[int, ...] = (4, 4)
    seed: int = 0


SPEC = {"kind": "MLPQNetwork", "obs_dim": 2, "n_actions": 2}


def _run(out=None, **overrides):
    options = dict(
        algo="dqn",
        env_id="CartPole-v1",
        env_options={"a": 1},
        config=Config(),
        total_steps=100,
        out_dir=out,
        progress=False,
    )
    options.update(overrides)
    return Run(**options)


def _payload(run, steps=10, resume=True, config=None, **overrides):
    options = dict(
        algo=run.algo,
        env_id=run.env_id,
        env_options=run.env_options,
        config=asdict(config or Config()),
        network_spec=SPEC,
        weights={"w": torch.full((2,), float(steps))},
        steps=steps,
        resume={"run": run.run_state()} if resume else None,
    )
    options.update(overrides)
    return make_checkpoint(**options)


def test_a_run_without_a_directory_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = _run(checkpoint_every=10)
    run.metrics.log_step(1.0)
    run.log_episode(10)
    assert run.log_evaluation(10, np.array([1.0]), lambda: _payload(run)) is True
    assert not run.checkpoint_due(9, 10)  # nowhere to write it
    run.save_resume_point(_payload(run))
    run.finish(_payload(run, resume=False))
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="resume=True needs out_dir"):
        _run(resume=True)


def test_the_schedule_fires_when_a_multiple_is_crossed(tmp_path):
    run = _run(tmp_path / "run", eval_every=100, checkpoint_every=30)
    assert run.evaluation_due(99, 100) and not run.evaluation_due(100, 101)
    assert run.evaluation_due(95, 105)  # parallel games advance several steps at once
    assert not run.evaluation_due(0, 99)
    assert [s for s in range(1, 100) if run.checkpoint_due(s - 1, s)] == [30, 60, 90]
    assert not _run(eval_every=None).evaluation_due(0, 10_000)


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("total_steps", 0, "total_steps must be >= 1, got 0"),
        ("eval_every", -50, "eval_every must be >= 1, got -50"),
        ("eval_episodes", 1.5, "eval_episodes must be an int, got 1.5"),
        ("checkpoint_every", 0, "checkpoint_every must be >= 1, got 0"),
    ],
)
def test_bad_schedule_values(option, value, message):
    with pytest.raises((ValueError, TypeError), match=message.replace(".", r"\.")):
        _run(**{option: value})


def test_the_run_directory_and_its_files(tmp_path):
    out = tmp_path / "run"
    run = _run(out, checkpoint_every=10)
    config = json.loads((out / "config.json").read_text())
    assert config == {
        "algo": "dqn",
        "env_id": "CartPole-v1",
        "env_options": {"a": 1},
        "total_steps": 100,
        "config": {"lr": 0.1, "hidden_sizes": [4, 4], "seed": 0},
    }
    run.metrics.log_step(2.0)
    row = run.log_episode(5, epsilon=0.5)
    assert row["episode"] == 1 and row["episode_return"] == 2.0
    first = run.log_evaluation(5, np.array([1.0, 3.0]), lambda: _payload(run, steps=5))
    worse = run.log_evaluation(8, np.array([0.0]), lambda: _payload(run, steps=8))
    assert (first, worse, run.best) == (True, False, 2.0)
    assert load_checkpoint(out / "best.pt")["steps"] == 5  # the best, not the latest
    assert "resume" not in load_checkpoint(out / "best.pt")
    run.save_resume_point(_payload(run, steps=10))
    assert load_checkpoint(out / "checkpoint.pt")["resume"]["run"]["episodes"] == 1
    run.finish(_payload(run, steps=100))
    assert "resume" not in load_checkpoint(out / "final.pt")
    assert {p.name for p in out.iterdir()} == {
        "config.json",
        "log.csv",
        "best.pt",
        "checkpoint.pt",
        "final.pt",
        "metrics.png",
    }
    assert (out / "log.csv").read_text().splitlines()[0].split(",") == LOG_COLUMNS
    log = read_csv(out / "log.csv")
    assert log["step"].tolist() == [5, 5, 8] and log["eval_mean"][1] == 2.0
    assert np.isnan(log["entropy"]).all()  # a column this algorithm does not measure


def test_a_new_run_replaces_an_old_log_and_resume_point(tmp_path):
    out = tmp_path / "run"
    old = _run(out, checkpoint_every=10)
    old.log_episode(3)
    old.save_resume_point(_payload(old))
    _run(out)
    assert (out / "log.csv").read_text().count("\n") == 1  # the header alone: a new log
    assert not (out / "checkpoint.pt").exists()


def _resume_point(out, **payload_overrides):
    run = _run(out)
    run.save_resume_point(_payload(run, **payload_overrides))
    run.close()  # as the loops do at their end: the directory is free again
    return out / "checkpoint.pt"


@pytest.mark.parametrize(
    ("prepare", "run_options", "message"),
    [
        (lambda out: out.mkdir(), {}, "nothing to resume in .*: no checkpoint.pt"),
        (lambda out: _resume_point(out, resume=False), {}, "holds weights only"),
        (
            lambda out: _resume_point(out),
            {"algo": "a2c"},
            "saved for algo='dqn', but algo='a2c' is needed",
        ),
        (
            lambda out: _resume_point(out),
            {"env_id": "Acrobot-v1"},
            "saved for env_id='CartPole-v1', but env_id='Acrobot-v1'",
        ),
        (
            lambda out: _resume_point(out),
            {"config": Config(lr=0.2)},
            r"other hyperparameters \(lr=0.1 here 0.2\)",
        ),
        (
            lambda out: _resume_point(out),
            {"env_options": {"a": 2}},
            r"env options \{'a': 1\}, not \{'a': 2\}",
        ),
    ],
)
def test_a_resume_point_that_does_not_fit_is_refused(tmp_path, prepare, run_options, message):
    out = tmp_path / "run"
    prepare(out)
    before = sorted(p.name for p in out.iterdir())
    with pytest.raises(CheckpointError, match=message):
        _run(out, resume=True, **run_options)
    assert sorted(p.name for p in out.iterdir()) == before, "a refused resume writes nothing"


def test_resuming_restores_the_run_state_and_drops_later_rows(tmp_path):
    out = tmp_path / "run"
    run = _run(out, checkpoint_every=10)
    for step in (4, 9):
        run.metrics.log_step(1.0)
        run.log_episode(step)
    run.log_evaluation(10, np.array([7.0]), lambda: _payload(run))
    run.metrics.log_step(5.0, loss=0.5)  # an episode in progress at the resume point
    run.save_resume_point(_payload(run, steps=10))
    run.metrics.log_step(1.0)
    run.log_episode(12)  # after the resume point: gone when resuming

    again = _run(out, resume=True)
    assert again.resume_payload["steps"] == 10
    assert (again.episodes, again.best) == (2, 7.0)
    assert again.metrics.history["step"] == [4.0, 9.0]
    assert again.metrics.evaluations == [(10, 7.0, 0.0)]
    assert read_csv(out / "log.csv")["step"].tolist() == [4, 9, 10]
    again.metrics.log_step(1.0)
    assert again.log_episode(15)["episode_return"] == 6.0  # 5 before the resume point + 1
    assert again.bar.n == 10


def test_training_time_excludes_evaluations(monkeypatch, tmp_path):
    now = [100.0]
    monkeypatch.setattr(harness.time, "perf_counter", lambda: now[0])
    run = _run(tmp_path / "run")
    now[0] += 5
    assert run.training_time() == 5
    run.pause_clock()  # an evaluation starts
    now[0] += 60
    assert run.training_time() == 5
    run.log_evaluation(10, np.array([1.0]), lambda: _payload(run))
    run.resume_clock()
    now[0] += 2
    run.log_episode(12)
    assert read_csv(tmp_path / "run" / "log.csv")["wall_seconds"].tolist() == [5, 7]
    assert run.run_state()["wall_seconds"] == 7
    run.save_resume_point(_payload(run))
    now[0] += 1000  # the resumed session starts later: only its own training time counts
    again = _run(tmp_path / "run", resume=True)
    now[0] += 3
    assert again.training_time() == 10


def test_ctrl_c_sets_a_flag_instead_of_raising():
    run = _run()
    before = signal.getsignal(signal.SIGINT)
    with run.interruptible():
        signal.raise_signal(signal.SIGINT)
        assert run.interrupted
    assert signal.getsignal(signal.SIGINT) is before

    seen = []

    def in_a_thread():  # signals reach only the main thread: nothing to install there
        with _run().interruptible():
            seen.append(signal.getsignal(signal.SIGINT))

    thread = threading.Thread(target=in_a_thread)
    thread.start()
    thread.join()
    assert seen == [before]


def test_a_run_directory_must_not_be_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="file is a file; choose another --out"):
        check_run_directory(tmp_path / "file")
    with pytest.raises(ValueError, match="file is a file"):
        check_run_directory(tmp_path / "file" / "run")
    check_run_directory(tmp_path / "new" / "run")  # to be made: fine
    with pytest.raises(ValueError, match="is a file"):
        _run(tmp_path / "file")


def test_progress_bar_counts_steps_and_can_be_off(capsys):
    bar = progress_bar(10, "DQN CartPole-v1", initial=4)  # a resumed run starts at 4
    bar.update(3)
    assert (bar.n, bar.total) == (7, 10)
    bar.close()
    assert "DQN CartPole-v1" in capsys.readouterr().err
    off = progress_bar(10, "DQN", enabled=False)
    off.close()
    assert off.disable and capsys.readouterr().err == ""
