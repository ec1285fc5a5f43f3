import dataclasses

import numpy as np
import pytest

from rlcourse import pretrained
from rlcourse.agents.dqn import DQNConfig, env_for_checkpoint, load_agent, make_env_for
from rlcourse.cli import build_parser, main
from rlcourse.envs import make_env
from rlcourse.training import CheckpointError, evaluate, field_docs, read_csv
from rlcourse.video import read_video


def test_help_documents_every_option(capsys):
    with pytest.raises(SystemExit):
        main(["train", "dqn", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    docs = field_docs(DQNConfig)
    for item in dataclasses.fields(DQNConfig):
        if item.name in ("extra", "seed"):
            continue
        assert "--" + item.name.replace("_", "-") in text
        assert " ".join(docs[item.name].split()[:4]) in text
    for flag in ("--env", "--total-steps", "--seed", "--out", "--resume", "--eval-every"):
        assert flag in text
    for action in build_parser()._actions:
        for sub in getattr(action, "choices", None) or {}:
            assert sub in ("train", "watch")


def test_train_then_watch(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "train",
            "dqn",
            "--env",
            "CartPole-v1",
            "--total-steps",
            "800",
            "--seed",
            "1",
            "--out",
            str(out),
            "--eval-every",
            "400",
            "--eval-episodes",
            "2",
            "--learning-starts",
            "200",
            "--hidden-sizes",
            "16",
            "16",
        ]
    )
    assert code == 0
    assert {p.name for p in out.iterdir()} >= {"log.csv", "config.json", "final.pt"}
    log = read_csv(out / "log.csv")
    assert log["step"].max() == 800 and np.sum(~np.isnan(log["eval_mean"])) == 2
    agent, payload = load_agent(out / "final.pt")
    assert agent.config.hidden_sizes == (16, 16) and agent.config.seed == 1
    assert "rlcourse train dqn" in payload["config"]["extra"]["command"] or payload["config"]
    video = tmp_path / "v.mp4"
    assert main(["watch", str(out / "final.pt"), "--video", str(video), "--episodes", "2"]) == 0
    printed = capsys.readouterr().out
    assert "episode 1: score" in printed
    frames = read_video(video)
    assert frames.shape[1:] == (400, 600, 3) and len(frames) >= 9


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["train", "dqn", "--env", "CartPol-v1", "--total-steps", "10", "--out", "X"],
            "Did you mean: 'CartPole-v1'",
        ),
        (
            ["train", "dqn", "--env", "CartPole-v1", "--total-steps", "-5", "--out", "X"],
            "total_steps must be a positive int",
        ),
        (
            [
                "train",
                "dqn",
                "--env",
                "CartPole-v1",
                "--total-steps",
                "10",
                "--out",
                "X",
                "--gamma",
                "2",
            ],
            "gamma must be in",
        ),
        (["watch", "missing.pt"], "no checkpoint at missing.pt"),
    ],
)
def test_bad_input_gives_one_clear_line(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("rlcourse: error:") and message in err
    assert "Traceback" not in err


def test_unknown_flags_are_refused_by_argparse(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "train",
                "dqn",
                "--env",
                "CartPole-v1",
                "--total-steps",
                "10",
                "--out",
                "x",
                "--learning-rate",
                "0.1",
            ]
        )
    assert exit_info.value.code == 2
    assert "unrecognized arguments: --learning-rate" in capsys.readouterr().err


def test_pretrained_cartpole_scores_500():
    env = make_env("CartPole-v1")
    agent, payload = load_agent(pretrained.path("dqn_cartpole.pt"), env, device="cpu")
    scores = evaluate(agent.greedy, env, episodes=10, seed=0)
    assert scores.tolist() == [500.0] * 10
    assert payload["env_id"] == "CartPole-v1"
    assert pretrained.path("dqn_cartpole.pt").stat().st_size < 8_000_000


@pytest.mark.parametrize("game", ["ALE/Breakout-v5", "ALE/Pong-v5"])
def test_any_ale_game_trains_and_plays_at_smoke_budget(tmp_path, game):
    out = tmp_path / "run"
    code = main(
        [
            "train",
            "dqn",
            "--env",
            game,
            "--total-steps",
            "120",
            "--out",
            str(out),
            "--learning-starts",
            "100",
            "--buffer-size",
            "500",
            "--batch-size",
            "4",
        ]
    )
    assert code == 0
    agent, payload = load_agent(out / "final.pt")
    assert payload["config"]["extra"]["preset"] == "atari" and agent.steps == 120
    assert tuple(payload["network_spec"]["obs_shape"]) == (4, 84, 84)
    assert (
        main(
            [
                "watch",
                str(out / "final.pt"),
                "--video",
                str(tmp_path / "g.mp4"),
                "--max-steps",
                "50",
            ]
        )
        == 0
    )
    assert read_video(tmp_path / "g.mp4").shape[1:] == (210, 160, 3)


def test_reduced_action_set_is_saved_and_rebuilt_for_watching(tmp_path):
    out = tmp_path / "run"
    argv = ["train", "dqn", "--env", "ALE/MarioBros-v5", "--actions", "right", "--double",
            "true", "--total-steps", "120", "--out", str(out), "--learning-starts", "100",
            "--buffer-size", "500", "--batch-size", "4"]  # fmt: skip
    assert main(argv) == 0
    agent, payload = load_agent(out / "final.pt")  # the env is rebuilt from the checkpoint
    assert payload["env_options"] == {"actions": "right"} and agent.n_actions == 2
    assert payload["config"]["double"] is True
    with pytest.raises(CheckpointError, match="with 2 actions .* this env has 18"):
        load_agent(out / "final.pt", make_env_for("ALE/MarioBros-v5", training=False))
    env = env_for_checkpoint(payload)
    assert env.unwrapped.get_action_meanings()[:2] == ["NOOP", "FIRE"]  # the game's own
    assert env.action_space.n == 2
    assert main(["watch", str(out / "final.pt"), "--max-steps", "20"]) == 0
