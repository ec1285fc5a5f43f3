"""NES Super Mario Bros. 1-1: the shipped Double DQN agent against random play, by the
course's protocol, measured in distance reached and flags as well as points.

Needs Python >= 3.13 with ``gym-super-mario-bros >= 9`` (Colab has both). Train one run (one
CPU core, torch on one thread: ~40 agent steps a second with the core to itself, 3.5-5 hours
for the 500k steps), then collect:

    python experiments/nes_mario.py commands --runs RUNS   # the training command
    python experiments/nes_mario.py collect --runs RUNS    # ship, evaluate, write the files

``collect`` copies ``RUNS/nes_s0/best.pt`` (the checkpoint the run's own evaluations chose,
on their seeds, never the test games') to ``rlcourse/pretrained/ddqn_nes_mario.pt`` and the
run's log to ``..._log.csv``, plays it and random play (the same two actions) on the 20 test
games (seeds 50,000+, epsilon 0.05), with the run's last weights (``final.pt``) on the same
games, and writes each player's points, distance reached
(``x_pos``), furthest distance and flags to ``rlcourse/pretrained/ddqn_nes_mario_scores.csv``
(lesson 06 reads it, also where the game is not installed), and draws the training curve
(``bench/results/ddqn_nes_mario.png``, which ``make results`` redraws).
"""

from __future__ import annotations

import csv
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRETRAINED = ROOT / "rlcourse" / "pretrained"
AGENT = PRETRAINED / "ddqn_nes_mario.pt"
LOG = PRETRAINED / "ddqn_nes_mario_log.csv"
SCORES = PRETRAINED / "ddqn_nes_mario_scores.csv"
RUN = "nes_s0"
COMMAND = (
    "rlcourse train dqn --env SuperMarioBros-1-1-v0 --actions right_only --preset atari100k "
    "--train-frequency 2 --target-update-interval 2000 --max-grad-norm 10 --adam-eps 1e-8 "
    "--exploration-steps 50000 --total-steps 500000 --seed 0 --threads 1 --checkpoint-every 10000 "
    "--eval-every 50000 --eval-episodes 5"
)
# The run's evaluations (greedy, every 50k steps) choose the checkpoint that ships: best.pt.
CHECKPOINT = "best.pt"
FIELDS = (
    "player",
    "games",
    "score_mean",
    "score_std",
    "distance_mean",
    "distance_std",
    "furthest",
    "flags",
)
TITLE = "Double DQN on NES Super Mario Bros. 1-1 ('right_only'), 500k agent steps, 1 CPU core"


def command(runs: Path) -> str:
    return f"{COMMAND} --out {runs / RUN}"


def score_row(player: str, scores, progress) -> list:
    x_pos, flags = progress["x_pos"], progress["flag_get"]
    return [
        player,
        len(scores),
        f"{scores.mean():.1f}",
        f"{scores.std():.1f}",
        f"{x_pos.mean():.1f}",
        f"{x_pos.std():.1f}",
        f"{x_pos.max():.0f}",
        int((flags > 0).sum()),
    ]


def collect(runs: Path, episodes: int, results: Path) -> list[dict[str, str]]:
    import torch

    from rlcourse.evaluation import TEST_SEED, evaluate_checkpoint
    from rlcourse.files import atomic_write

    torch.set_num_threads(1)
    if not (runs / RUN / "final.pt").exists():
        sys.exit(f"not finished: {runs / RUN} (train, or resume with --resume):\n{command(runs)}")
    with atomic_write(AGENT, suffix=".pt") as temporary:
        shutil.copyfile(runs / RUN / CHECKPOINT, temporary)
    with atomic_write(LOG, suffix=".csv") as temporary:
        shutil.copyfile(runs / RUN / "log.csv", temporary)
    result = evaluate_checkpoint(AGENT, episodes, TEST_SEED, vs_random=True)
    # The run's last weights too, on the same games: what the choice of checkpoint changed.
    last = evaluate_checkpoint(runs / RUN / "final.pt", episodes, TEST_SEED)
    rows = [
        score_row("random play (right_only)", result.random_scores, result.random_progress),
        score_row("Double DQN", result.scores, result.progress),
        score_row("Double DQN, the run's last weights", last.scores, last.progress),
    ]
    with atomic_write(SCORES, suffix=".csv") as temporary, open(temporary, "w") as file:
        writer = csv.writer(file)
        writer.writerow(FIELDS)
        writer.writerows(rows)
    draw(results / "ddqn_nes_mario.png")
    found = read_scores()
    for row in found:
        print(
            f"{row['player']}: {row['score_mean']} +- {row['score_std']} points, distance "
            f"{row['distance_mean']} +- {row['distance_std']} (furthest {row['furthest']}), "
            f"flags {row['flags']} of {row['games']}"
        )
    return found


def read_scores(path: Path = SCORES) -> list[dict[str, str]]:
    """The rows ``collect`` wrote: random play, the shipped agent, the run's last weights."""
    with path.open() as file:
        return list(csv.DictReader(file))


def draw(png: Path) -> Path:
    """The training curve from the shipped log, random play's points as a line."""
    from rlcourse.metrics import MetricLogger
    from rlcourse.plots import plot_metrics

    random_play = float(read_scores()[0]["score_mean"])
    metrics = MetricLogger.from_csv(LOG, window=100)
    plot_metrics(metrics, png, title=TITLE, baselines={"random play, 20 test games": random_play})
    return png


def main(argv: list[str] | None = None) -> None:
    from runs_cli import commands_or_collect  # a sibling script (experiments/ is on sys.path)

    commands_or_collect(
        __doc__.splitlines()[0],
        argv,
        runs=Path("runs/nes"),
        runs_help=f"folder of the run's directory ({RUN})",
        commands=lambda runs: [command(runs)],
        collect=collect,
        output=("--results", ROOT / "bench" / "results", "folder of the figure"),
    )


if __name__ == "__main__":
    main()
