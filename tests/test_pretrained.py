"""The shipped agents (rlcourse/pretrained/*.pt): they load as ready policies, are small, and
`rlcourse evaluate` and `rlcourse watch` play them.

The full 20-game figures are in docs/results.md (experiments/evaluate_atari.py); these tests
play a few short games with fixed seeds, so they are deterministic and take seconds.
"""

import importlib.util
import re

import numpy as np
import pytest
import torch
from conftest import load_script

from rlcourse import pretrained
from rlcourse.agents.dqn import DQNConfig, atari_100k_config
from rlcourse.checkpoints import load_checkpoint
from rlcourse.cli import main
from rlcourse.envs import env_for_checkpoint
from rlcourse.evaluation import TEST_SEED, evaluate, evaluate_checkpoint
from rlcourse.metrics import MetricLogger
from rlcourse.policies import CategoricalPolicy, QPolicy, RecurrentPolicy
from rlcourse.registry import load_policy
from rlcourse.studies.ablation import read_ablation
from rlcourse.video import read_video

# name -> (algorithm, env id, policy class, whether it beats random play in short games)
SHIPPED = {
    "dqn_cartpole.pt": ("dqn", "CartPole-v1", QPolicy, True),
    "dqn_mspacman.pt": ("dqn", "ALE/MsPacman-v5", QPolicy, True),
    "dqn_mspacman_100k.pt": ("dqn", "ALE/MsPacman-v5", QPolicy, True),
    # 200 steps are too few to tell: it ties random play there; over whole games it scores
    # thousands against random play's 375 (lesson 07).
    "dqn_kungfu_100k.pt": ("dqn", "ALE/KungFuMaster-v5", QPolicy, False),
    # It plays as well as random play on its 2 actions (docs/results.md).
    "ddqn_mario.pt": ("dqn", "ALE/MarioBros-v5", QPolicy, False),
    "a2c_kungfu.pt": ("a2c", "ALE/KungFuMaster-v5", RecurrentPolicy, True),
    # Like the DQN agent: 200 steps are too few to tell (whole games: lesson 10).
    "ppo_kungfu.pt": ("ppo", "ALE/KungFuMaster-v5", RecurrentPolicy, False),
    # Playing it needs gym-super-mario-bros (Python >= 3.13): tests/test_nes_mario.py.
    "ddqn_nes_mario.pt": ("dqn", "SuperMarioBros-1-1-v0", QPolicy, True),
    "reinforce_cartpole.pt": ("reinforce", "CartPole-v1", CategoricalPolicy, True),
}
LONG_RUNS = ["dqn_mspacman.pt", "ddqn_mario.pt"]
HAS_NES = importlib.util.find_spec("gym_super_mario_bros") is not None
NEEDS_NES = {"ddqn_nes_mario.pt"}


def playable(names):
    """``names`` for a parametrize, those whose game is not installed here skipped."""
    skip = pytest.mark.skipif(
        not HAS_NES, reason="NES Super Mario needs gym-super-mario-bros >= 9 (Python >= 3.13)"
    )
    return [pytest.param(name, marks=skip) if name in NEEDS_NES else name for name in names]


SCORE = r"-?\d+\.\d \+- \d+\.\d over {n} games"


def test_every_shipped_checkpoint_is_listed():
    assert {n for n in pretrained.available() if n.endswith(".pt")} == set(SHIPPED)
    with pytest.raises(FileNotFoundError, match="available: "):
        pretrained.path("dqn_pong.pt")


@pytest.mark.parametrize("name", playable(sorted(SHIPPED)))
def test_load_agent_gives_a_ready_policy(name):
    algo, env_id, kind, _ = SHIPPED[name]
    path = pretrained.path(name)
    assert path.stat().st_size < 8_000_000
    payload = load_checkpoint(path)
    assert "resume" not in payload, "shipped files hold weights only"
    policy = load_policy(path)
    assert type(policy) is kind
    info = policy.checkpoint
    assert (info.algo, info.env_id, info.path) == (algo, env_id, str(path))
    assert info.steps > 0 and info.config == payload["config"]
    assert not policy.network.training  # ready to play: eval mode
    env = env_for_checkpoint(policy)
    obs, _ = env.reset(seed=0)
    policy.reset()
    for _ in range(3):
        action = policy(obs)
        assert 0 <= action < env.action_space.n
        obs, *_ = env.step(action)
    if kind is QPolicy:
        assert policy.epsilon == 0  # greedy
    elif kind is CategoricalPolicy:
        assert not policy.greedy  # REINFORCE samples from its policy
    else:
        assert policy.reset_on_life_loss == payload["config"]["episodic_life"]


def test_the_cartpole_agent_balances_the_pole_for_the_whole_episode():
    policy = load_policy(pretrained.path("dqn_cartpole.pt"))
    scores = evaluate(policy, env_for_checkpoint(policy), episodes=3, seed=50_000)
    assert scores.tolist() == [500.0] * 3


def test_the_reinforce_agent_solves_cartpole_sampling_its_actions():
    # Lesson 08's agent, by the course's protocol (20 test games, actions sampled from the
    # policy): what `rlcourse evaluate ... --episodes 20 --seed 50000` prints (a few seconds).
    result = evaluate_checkpoint(pretrained.path("reinforce_cartpole.pt"), 20, TEST_SEED)
    assert result.rule == "actions sampled from the policy"
    assert result.scores.mean() >= 475, result.scores
    log = MetricLogger.from_csv(pretrained.path("reinforce_cartpole_log.csv"))
    assert log.evaluations[-1][1] >= 475  # the run stopped once solved


@pytest.mark.parametrize("game", ["mspacman", "kungfu"])
def test_the_100k_agents_are_the_median_seed_of_the_atari100k_preset(game):
    # Lesson 07's agents: the median seed of experiments/dqn_100k_seeds.py, by the shipped scores
    # (a typical run, not the best one).
    seeds = load_script("experiments/dqn_100k_seeds")
    runs = read_ablation(*seeds.SHIPPED)
    seed = seeds.median_seed(runs, game)
    policy = load_policy(pretrained.path(seeds.agent_file(game)))
    # read as today's DQNConfig: fields added since the run take their defaults
    config = dict(DQNConfig.from_dict(policy.checkpoint.config).to_dict(), extra={})
    assert config == atari_100k_config(seed=seed).to_dict()
    assert policy.checkpoint.steps == 100_000
    assert policy.checkpoint.env_id == seeds.GAMES[game][0]


def test_the_ppo_agent_is_the_median_seed_of_lesson_10s_runs():
    # experiments/ppo_kungfu_seeds.py: the median PPO seed by the shipped scores, its final
    # weights in fp32 (the file that was evaluated), made by the script's command.
    from rlcourse.agents.ppo import PPOConfig

    script = load_script("experiments/ppo_kungfu_seeds")
    runs = read_ablation(*script.SHIPPED)
    seed = script.median_seed(runs, "ppo")
    policy = load_policy(pretrained.path("ppo_kungfu.pt"))
    config = PPOConfig.from_dict(policy.checkpoint.config)
    assert config.seed == seed and policy.checkpoint.env_id == script.ENV
    run = next(run for run in runs if run.name == f"ppo_s{seed}")
    assert policy.checkpoint.steps == run.steps >= 1_000_000
    made_by = config.extra["command"]
    expected = script.command("ppo", seed, script.Path("x")).split(" --out ")[0]
    assert made_by.startswith("rlcourse train ppo --env ALE/KungFuMaster-v5 ")
    for option in expected.split(" --")[1:]:
        assert f"--{option} " in made_by  # the script's options, whatever their order
    assert next(p for p in policy.network.parameters()).dtype == torch.float32


def test_the_nes_agent_is_the_atari100k_preset_on_right_only_chosen_at_400k_steps():
    # experiments/nes_mario.py's run (500k steps; its evaluations chose the 400k checkpoint);
    # loading it needs no NES package (playing it does).
    path = pretrained.path("ddqn_nes_mario.pt")
    assert path.stat().st_size < 8_000_000 and "resume" not in load_checkpoint(path)
    policy = load_policy(path)
    info = policy.checkpoint
    assert (info.env_id, info.env_options, info.steps) == (
        "SuperMarioBros-1-1-v0",
        {"actions": "right_only"},
        400_000,
    )
    config = dict(DQNConfig.from_dict(info.config).to_dict(), extra={})
    expected = atari_100k_config(
        seed=0,
        train_frequency=2,
        target_update_interval=2000,
        max_grad_norm=10.0,
        adam_eps=1e-8,
        exploration_steps=50_000,
    )
    assert config == expected.to_dict()
    assert policy.n_actions == 2  # the tutorial's "right_only": run right, jump right


def test_the_mario_agent_is_double_dqn_on_the_right_only_action_set():
    policy = load_policy(pretrained.path("ddqn_mario.pt"))
    assert policy.checkpoint.env_options == {"actions": "right_only"}
    assert policy.checkpoint.config["double"] is True
    env = env_for_checkpoint(policy)
    assert env.get_action_meanings() == ["RIGHT", "RIGHTFIRE"] and policy.n_actions == 2


@pytest.mark.parametrize("name", playable(sorted(SHIPPED)))
def test_rlcourse_evaluate_scores_a_shipped_agent_and_random_play(name, capsys):
    *_, beats_random = SHIPPED[name]
    path = pretrained.path(name)
    argv = ["evaluate", str(path), "--episodes", "2", "--max-steps", "200", "--vs-random"]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch("score: " + SCORE.format(n=2), lines[-1]), lines[-1]
    # (NES Super Mario adds a distance line for each player before the score.)
    random_line = next(line for line in lines if line.startswith("random: "))
    assert re.fullmatch("random: " + SCORE.format(n=2), random_line), random_line
    assert lines[0].startswith(f"{path}: ")
    score, random_score = (float(line.split()[1]) for line in (lines[-1], random_line))
    if beats_random:
        assert score > random_score, lines


def test_rlcourse_evaluate_without_random_play_prints_only_the_score(capsys):
    path = pretrained.path("dqn_cartpole.pt")
    assert main(["evaluate", str(path), "--episodes", "3", "--max-steps", "50"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "score: 50.0 +- 0.0 over 3 games"
    assert not any(line.startswith("random:") for line in lines)


@pytest.mark.parametrize("name", playable(sorted(SHIPPED)))
def test_rlcourse_watch_records_a_video_of_a_shipped_agent(name, tmp_path, capsys):
    video = tmp_path / "game.mp4"
    argv = ["watch", str(pretrained.path(name)), "--video", str(video), "--max-steps", "40"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    match = re.search(r"game 0: score -?\d+\.\d \((\d+) steps\)", printed)
    assert match, printed
    frames = read_video(video)
    assert len(frames) == int(match.group(1)) + 1  # the first frame, then one per step
    env = env_for_checkpoint(load_policy(pretrained.path(name)), render_mode="rgb_array")
    env.reset(seed=0)
    height, width, _ = env.render().shape
    assert frames.shape[1:] == (height + height % 2, width + width % 2, 3)
    assert frames.dtype == np.uint8 and frames.std() > 0


@pytest.mark.parametrize("name", LONG_RUNS)
def test_the_long_run_log_ships_with_its_checkpoint(name):
    log = MetricLogger.from_csv(pretrained.path(name.replace(".pt", "_log.csv")))
    assert log.history["step"][-1] >= 299_000 and len(log.evaluations) >= 10
    late = np.mean(log.history["episode_return"][-100:])
    early = np.mean(log.history["episode_return"][:100])
    assert late > early  # training returns rose over the run (barely, for Mario: 0.18 -> 0.22)


# Videos shipped for lessons whose game is not installed everywhere: name -> (checkpoint, the
# record_episode arguments that made it, its frame size).
VIDEOS = {
    "ddqn_nes_mario.mp4": ("ddqn_nes_mario.pt", {"seed": TEST_SEED, "max_steps": 450, "fps": 15}),
}


def test_every_shipped_file_is_package_data_and_every_video_is_listed():
    from fnmatch import fnmatch
    from pathlib import Path

    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    globs = tomllib.loads(pyproject.read_text())["tool"]["setuptools"]["package-data"]["rlcourse"]
    for name in pretrained.available():
        assert any(fnmatch(f"pretrained/{name}", glob) for glob in globs), name
    assert {n for n in pretrained.available() if n.endswith(".mp4")} == set(VIDEOS)


@pytest.mark.parametrize("name", sorted(VIDEOS))
def test_a_shipped_video_is_small_short_and_plays_in_a_browser(name):
    import imageio.v2 as imageio

    path = pretrained.path(name)
    assert path.stat().st_size <= 1_000_000  # at most 1 MB: it is inlined in the notebook
    with imageio.get_reader(path, format="FFMPEG") as reader:
        meta = reader.get_meta_data()
    # H.264 + yuv420p: the MP4 flavour every browser plays (rlcourse.video.write_video's)
    assert meta["codec"] == "h264" and meta["pix_fmt"].startswith("yuv420p"), meta
    frames = read_video(path)
    assert meta["fps"] == VIDEOS[name][1]["fps"]
    assert len(frames) / meta["fps"] <= 30  # seconds
    assert frames.dtype == np.uint8 and frames.std() > 0
    assert frames.shape[1:] == (240, 256, 3)  # the NES screen


@pytest.mark.skipif(not HAS_NES, reason="recording it needs gym-super-mario-bros (Python >= 3.13)")
@pytest.mark.parametrize("name", sorted(VIDEOS))
def test_a_shipped_video_is_its_agents_game_recorded_again(name, tmp_path):
    from rlcourse.video import record_episode

    checkpoint, options = VIDEOS[name]
    policy = load_policy(pretrained.path(checkpoint))
    env = env_for_checkpoint(policy, render_mode="rgb_array")
    recording = record_episode(env, policy, tmp_path / "again.mp4", **options)
    again, shipped = read_video(recording.path), read_video(pretrained.path(name))
    assert again.shape == shipped.shape
    # the same game, frame for frame (encoding may round pixels a little)
    assert np.abs(again.astype(int) - shipped.astype(int)).mean() < 1


def test_the_action_gap_table_ships_as_measured():
    # rlcourse/pretrained/mario_action_gap.csv (lesson 06 reads it) holds the two tables of
    # experiments/mario_action_gap.py's output, bench/results/mario_action_gap.md.
    from pathlib import Path

    from rlcourse.metrics import read_csv

    report = Path(__file__).resolve().parents[1] / "bench/results/mario_action_gap.md"
    rows = [line for line in report.read_text().splitlines() if re.match(r"\| [18] \|", line)]
    cells = [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]
    summary, relative = [c for c in cells if len(c) == 9], [c for c in cells if len(c) == 7]
    table = read_csv(pretrained.path("mario_action_gap.csv"))
    assert table["held_steps"].tolist() == [1.0, 8.0] and len(summary) == len(relative) == 2
    for i, (row, values) in enumerate(zip(summary, relative, strict=True)):
        apart, states = (float(x) for x in row[4].split(" of "))
        expected = {
            "held_steps": float(row[0]),
            "state_value": float(row[1]),
            "rollouts_that_kick_percent": float(row[2].rstrip("%")),
            "gap_best_minus_worst": float(row[3]),
            "states_apart": apart,
            "states": states,
            "spread": float(row[5]),
            "spread_upper_95": float(row[6]),
            "rollout_noise": float(row[7]),
            "rollouts_needed": float(row[8]),
        }
        names = ("NOOP", "RIGHT", "LEFT", "FIRE", "RIGHTFIRE", "LEFTFIRE")
        expected.update(zip(names, (float(v) for v in values[1:]), strict=True))
        assert {key: table[key][i] for key in expected} == expected
