"""The `rlcourse` command line (rlcourse/cli.py), called in-process with ``main([...])``.

Bad input is tested in test_bad_input.py, evaluate and watch on the shipped agents in
test_pretrained.py, killing and resuming a run in test_resume.py."""

import dataclasses
import json
import shlex

import numpy as np
import pytest

from rlcourse.agents.a2c import A2CConfig
from rlcourse.agents.dqn import DQNConfig
from rlcourse.agents.reinforce import ReinforceConfig
from rlcourse.checkpoints import load_checkpoint
from rlcourse.cli import build_parser, main
from rlcourse.config import field_docs
from rlcourse.envs import env_for_checkpoint
from rlcourse.metrics import LOG_COLUMNS, read_csv
from rlcourse.policies import CategoricalPolicy, QPolicy, RecurrentPolicy
from rlcourse.registry import load_policy

CONFIGS = {"dqn": DQNConfig, "a2c": A2CConfig, "reinforce": ReinforceConfig}
POLICIES = {"dqn": QPolicy, "a2c": RecurrentPolicy, "reinforce": CategoricalPolicy}
PNG = b"\x89PNG\r\n\x1a\n"
# Small runs of each algorithm: CartPole for DQN, the default env (Kung-Fu) for A2C.
TINY = {
    "dqn": [
        "train",
        "dqn",
        "--env",
        "CartPole-v1",
        "--total-steps",
        "120",
        "--learning-starts",
        "50",
        "--batch-size",
        "16",
        "--hidden-sizes",
        "16",
        "16",
        "--buffer-size",
        "1000",
        "--checkpoint-every",
        "100",
        "--eval-every",
        "100",
        "--eval-episodes",
        "1",
        "--no-progress",
    ],
    "a2c": [
        "train",
        "a2c",
        "--total-steps",
        "20",
        "--n-games",
        "2",
        "--rollout-length",
        "5",
        "--hidden-size",
        "16",
        "--checkpoint-every",
        "10",
        "--eval-every",
        "20",
        "--eval-episodes",
        "1",
        "--no-progress",
    ],
    "reinforce": [
        "train",
        "reinforce",
        "--env",
        "CartPole-v1",
        "--total-steps",
        "120",
        "--episodes-per-update",
        "2",
        "--hidden-sizes",
        "16",
        "--checkpoint-every",
        "100",
        "--eval-every",
        "100",
        "--eval-episodes",
        "1",
        "--no-progress",
    ],
}


def _squeeze(text: str) -> str:
    """Text without whitespace: argparse rewraps help lines (and may break at hyphens)."""
    return "".join(text.split())


def test_the_commands():
    commands = next(a for a in build_parser()._actions if a.dest == "command").choices
    assert set(commands) == {"train", "evaluate", "watch", "export", "plot", "study"}


@pytest.mark.parametrize("algo", ["dqn", "a2c", "reinforce"])
def test_help_documents_every_config_field_with_its_docstring(algo, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", algo, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    squeezed = _squeeze(text)
    docs = field_docs(CONFIGS[algo])
    for item in dataclasses.fields(CONFIGS[algo]):
        if item.name in ("seed", "extra"):
            continue
        flag = "--" + item.name.replace("_", "-")
        assert f"{flag} " in text, f"{flag} missing from `rlcourse train {algo} --help`"
        assert docs[item.name], f"{algo} config field {item.name} has no docstring"
        assert _squeeze(docs[item.name]) in squeezed, f"{flag}'s documentation is not shown"
    for flag in (
        "--env",
        "--total-steps",
        "--seed",
        "--out",
        "--resume",
        "--eval-every",
        "--eval-episodes",
        "--checkpoint-every",
        "--max-minutes",
        "--threads",
        "--export",
        "--no-progress",
    ):
        assert f"{flag} " in text


@pytest.mark.parametrize("algo", ["dqn", "a2c", "reinforce"])
def test_train_writes_the_same_run_files_for_every_algorithm(algo, tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*TINY[algo], "--out", str(out), "--lr", "0.003", "--seed", "5"]) == 0
    printed = capsys.readouterr().out
    assert f"final weights: {out / 'final.pt'}" in printed
    assert {p.name for p in out.iterdir()} == {
        "config.json",
        "log.csv",
        "checkpoint.pt",
        "best.pt",
        "final.pt",
        "metrics.png",
    }
    assert (out / "log.csv").read_text().splitlines()[0].split(",") == LOG_COLUMNS
    config = json.loads((out / "config.json").read_text())
    total = int(TINY[algo][TINY[algo].index("--total-steps") + 1])
    assert (config["algo"], config["total_steps"]) == (algo, total)
    assert config["config"]["lr"] == 0.003 and config["config"]["seed"] == 5  # --lr, --seed
    final = load_checkpoint(out / "final.pt")
    assert final["config"]["lr"] == 0.003 and "resume" not in final
    # every algorithm's run records the command that made it (studies read it back)
    made_by = [*TINY[algo], "--out", str(out), "--lr", "0.003", "--seed", "5"]
    assert final["config"]["extra"]["command"] == shlex.join(["rlcourse", *made_by])
    assert (out / "metrics.png").read_bytes()[:8] == PNG
    assert np.isfinite(read_csv(out / "log.csv")["eval_mean"]).sum() == 1  # the evaluation
    policy = load_policy(out / "best.pt")
    assert isinstance(policy, POLICIES[algo])
    if algo == "a2c":
        assert final["env_id"] == "ALE/KungFuMaster-v5"  # the default env
        assert final["env_options"]["crop"] == list(A2CConfig().crop)


def test_resume_continues_a_run_and_plot_and_export_use_it(tmp_path, capsys):
    out = tmp_path / "run"
    first = [*TINY["dqn"], "--out", str(out), "--total-steps", "300", "--checkpoint-every", "300"]
    assert main(first) == 0
    before = (out / "log.csv").read_text().splitlines()
    assert load_checkpoint(out / "checkpoint.pt")["steps"] == 300
    assert main([*first, "--total-steps", "500", "--resume"]) == 0
    assert "for 500 steps" in capsys.readouterr().out
    assert load_checkpoint(out / "final.pt")["steps"] == 500
    after = (out / "log.csv").read_text().splitlines()
    assert after[: len(before)] == before and len(after) > len(before)
    assert read_csv(out / "log.csv")["step"].max() > 300

    # plot: the run's curves from its log.csv
    (out / "metrics.png").unlink()
    assert main(["plot", str(out)]) == 0
    assert (out / "metrics.png").read_bytes()[:8] == PNG
    assert main(["plot", str(out), "--png", str(tmp_path / "curves.png")]) == 0
    assert (tmp_path / "curves.png").read_bytes()[:8] == PNG

    # export: a small fp16 copy without the resume state, that load_policy plays
    small = tmp_path / "small.pt"
    assert main(["export", str(out / "checkpoint.pt"), str(small)]) == 0
    assert f"wrote {small}" in capsys.readouterr().out
    exported = load_checkpoint(small)
    assert "resume" not in exported and exported["steps"] == 300  # the resume point's
    assert {str(w.dtype) for w in exported["weights"].values()} == {"torch.float16"}
    assert small.stat().st_size < (out / "checkpoint.pt").stat().st_size / 10
    policy = load_policy(small)
    env = env_for_checkpoint(policy)
    obs, _ = env.reset(seed=0)
    assert policy(obs) in (0, 1)
    assert main(["export", str(out / "final.pt"), str(tmp_path / "fp32.pt"), "--fp32"]) == 0
    weights = load_checkpoint(tmp_path / "fp32.pt")["weights"]
    original = load_checkpoint(out / "final.pt")["weights"]
    assert all(np.array_equal(weights[k].numpy(), original[k].numpy()) for k in original)


def test_train_export_writes_the_final_weights_in_fp16(tmp_path, capsys):
    out, exported = tmp_path / "run", tmp_path / "agent.pt"
    argv = [*TINY["dqn"], "--total-steps", "60", "--out", str(out), "--export", str(exported)]
    assert main(argv) == 0
    assert f"exported weights to {exported}" in capsys.readouterr().out
    payload = load_checkpoint(exported)
    assert "resume" not in payload and payload["steps"] == 60
    assert {str(w.dtype) for w in payload["weights"].values()} == {"torch.float16"}


@pytest.mark.parametrize("algo", ["dqn", "a2c", "reinforce"])
def test_max_minutes_stops_training_for_both_algorithms(algo, tmp_path):
    out = tmp_path / "run"
    assert main([*TINY[algo], "--out", str(out), "--max-minutes", "1e-9"]) == 0
    assert load_checkpoint(out / "final.pt")["steps"] == 0  # out of time at once


def test_an_ale_game_with_a_reduced_action_set(tmp_path, capsys):
    out = tmp_path / "run"
    argv = [
        "train",
        "dqn",
        "--env",
        "ALE/MarioBros-v5",
        "--actions",
        "right_only",
        "--double",
        "true",
        "--total-steps",
        "40",
        "--out",
        str(out),
        "--learning-starts",
        "20",
        "--buffer-size",
        "100",
        "--batch-size",
        "4",
        "--no-progress",
    ]
    assert main(argv) == 0
    payload = load_checkpoint(out / "final.pt")
    assert payload["env_options"] == {"actions": "right_only"}
    assert payload["config"]["double"] is True
    assert payload["config"]["extra"]["preset"] == "atari"  # chosen from the env id
    assert payload["network_spec"]["class"] == "NatureCNN"
    assert tuple(payload["network_spec"]["kwargs"]["obs_shape"]) == (4, 84, 84)
    policy = load_policy(out / "final.pt")
    env = env_for_checkpoint(policy)  # rebuilt from the checkpoint, with its action set
    assert env.action_space.n == 2 and policy.n_actions == 2
    assert env.unwrapped.get_action_meanings()[:2] == ["NOOP", "FIRE"]  # the game's own
    assert main(["watch", str(out / "final.pt"), "--max-steps", "20"]) == 0
    assert "game 0: score" in capsys.readouterr().out


def test_unknown_and_renamed_flags_are_refused_by_argparse(capsys):
    for argv in (
        ["train", "a2c", "--out", "x", "--total-steps", "10", "--learning-rate", "0.1"],
        [
            "train",
            "dqn",
            "--env",
            "CartPole-v1",
            "--out",
            "x",
            "--total-steps",
            "10",
            "--entropy-coef",
            "0.1",
        ],  # an A2C option
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
        assert f"unrecognized arguments: {argv[-2]}" in capsys.readouterr().err
