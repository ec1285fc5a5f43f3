"""experiments/nes_mario.py: its command is the shipped agent's config, and the shipped scores say
what lesson 06 and docs/results.md say (the agent gets further into 1-1 than random play)."""

import shlex

import numpy as np
from conftest import load_script

from rlcourse.agents.dqn import PRESETS, DQNConfig
from rlcourse.checkpoints import load_checkpoint
from rlcourse.cli import build_parser
from rlcourse.config import options_to_values
from rlcourse.metrics import read_csv
from rlcourse.registry import ALGORITHMS

nes = load_script("experiments/nes_mario")


def test_the_command_makes_the_shipped_agents_config(tmp_path, capsys):
    nes.main(["commands", "--runs", str(tmp_path)])
    command = capsys.readouterr().out.strip()
    assert command == nes.command(tmp_path) and command.endswith(f"--out {tmp_path / 'nes_s0'}")
    args = build_parser().parse_args(shlex.split(command)[1:])
    values = options_to_values(args, ALGORITHMS["dqn"].config)
    config = PRESETS[args.preset](**values, seed=args.seed)
    shipped = load_checkpoint(nes.AGENT)
    saved = DQNConfig.from_dict(shipped["config"]).to_dict()  # later fields: defaults
    assert dict(config.to_dict(), extra={}) == dict(saved, extra={})
    assert (args.env, args.actions) == (shipped["env_id"], shipped["env_options"]["actions"])
    # the checkpoint the run's evaluations chose: its best evaluation, within the run
    log = read_csv(nes.LOG)
    evaluated = np.isfinite(log["eval_mean"])
    best_step = log["step"][evaluated][np.argmax(log["eval_mean"][evaluated])]
    assert shipped["steps"] == best_step <= args.total_steps == log["step"][-1]


def test_the_shipped_scores_put_the_agent_beyond_random_play():
    random_play, agent, last = nes.read_scores()
    assert random_play["player"].startswith("random play") and agent["player"] == "Double DQN"
    assert last["player"] == "Double DQN, the run's last weights"
    assert random_play["games"] == agent["games"] == last["games"] == "20"
    assert float(agent["distance_mean"]) > float(random_play["distance_mean"])
    assert float(agent["furthest"]) >= float(agent["distance_mean"])
    assert 0 <= int(agent["flags"]) <= 20
    # Random play on these games and actions, as measured before the agent existed
    # (docs/results.md).
    assert (random_play["distance_mean"], random_play["score_mean"]) == ("803.0", "712.5")
