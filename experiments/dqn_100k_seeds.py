"""Lesson 07's results: the ``atari100k`` preset for 100k agent steps on Ms. Pac-Man and
Kung-Fu Master, two seeds each, every run scored on the 20 test games (the course's protocol).

Train the runs (one CPU core each, torch on one thread; 75-130 minutes a run on the course's
2-core machines), then collect:

    python experiments/dqn_100k_seeds.py commands --runs RUNS   # the training commands
    python experiments/dqn_100k_seeds.py collect --runs RUNS    # evaluate, write the files

``collect`` plays each finished ``RUNS/<game>_s<seed>/final.pt`` (and random play, once a
game) on the 20 test games (unfinished runs are named and left out) and writes
``rlcourse/pretrained/dqn_100k_seeds_log.csv`` and ``..._scores.csv`` (the lesson reads them,
in Colab too; the format of :mod:`rlcourse.studies.ablation`) and one figure a game,
``bench/results/dqn_100k_seeds_<game>.png``. Seed 0 of each game ships as the
lesson's agent (``rlcourse export RUNS/<game>_s0/final.pt rlcourse/pretrained/...``): chosen
before training, not by its score.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRETRAINED = ROOT / "rlcourse" / "pretrained"
# short name -> (env id, title)
GAMES = {
    "mspacman": ("ALE/MsPacman-v5", "Ms. Pac-Man"),
    "kungfu": ("ALE/KungFuMaster-v5", "Kung-Fu Master"),
}
SEEDS = (0, 1)
COMMON = "--preset atari100k --total-steps 100000 --threads 1 --checkpoint-every 25000"
SHIPPED = (PRETRAINED / "dqn_100k_seeds_log.csv", PRETRAINED / "dqn_100k_seeds_scores.csv")
# Published Atari 100k scores (Ms. Pac-Man, Kung-Fu Master), drawn as dashed lines.
PUBLISHED = {"DER": (1187, 6580), "DrQ(eps)": (1218, 11467), "BBF": (2008, 18992)}


def run_name(game: str, seed: int) -> str:
    return f"{game}_s{seed}"


def command(game: str, seed: int, runs: Path) -> str:
    return (
        f"rlcourse train dqn --env {GAMES[game][0]} {COMMON} --seed {seed} "
        f"--out {runs / run_name(game, seed)}"
    )


def collect(runs: Path, episodes: int, results: Path) -> list:
    import torch

    from rlcourse.studies.ablation import evaluate_run, summary, write_ablation

    torch.set_num_threads(1)
    missing = [
        command(game, seed, runs)
        for game in GAMES
        for seed in SEEDS
        if not (runs / run_name(game, seed) / "final.pt").exists()
    ]
    if len(missing) == len(GAMES) * len(SEEDS):
        sys.exit(f"no finished run in {runs}; train them first:\n" + "\n".join(missing))
    if missing:  # the files hold the finished runs; collect again when the rest are done
        print("not finished, left out (train, or resume with --resume):\n" + "\n".join(missing))
    variants = []
    for game, (_, title) in GAMES.items():
        finished = [seed for seed in SEEDS if (runs / run_name(game, seed) / "final.pt").exists()]
        for seed in finished:
            name = run_name(game, seed)
            found = evaluate_run(
                runs / name,
                name,
                f"{title}, seed {seed}",
                episodes=episodes,
                vs_random=seed == finished[0],
            )
            if seed == finished[0]:  # random play on the same games, once a game
                found[0].name, found[0].label = f"{game}_random", f"{title}, random play"
            variants += found
            print(
                f"{name}: {found[-1].scores.mean():.1f} +- {found[-1].scores.std():.1f}", flush=True
            )
    write_ablation(variants, *SHIPPED)
    draw(results)
    print(summary(variants))
    return variants


def draw(results: Path) -> list[Path]:
    """One figure a game from the shipped CSVs (``make results`` calls this too)."""
    from rlcourse.studies.ablation import plot_ablation, read_ablation

    variants = read_ablation(*SHIPPED)
    written = []
    for index, (game, (_, title)) in enumerate(GAMES.items()):
        mine = [v for v in variants if v.name.startswith(f"{game}_")]
        if not mine:
            continue
        baselines = {name: scores[index] for name, scores in PUBLISHED.items()}
        png = results / f"dqn_100k_seeds_{game}.png"
        title = f"Data-efficient DQN (atari100k preset), {title}, 100k agent steps"
        plot_ablation(mine, png, baselines=baselines, title=title)
        written.append(png)
    return written


def main(argv: list[str] | None = None) -> None:
    from runs_cli import commands_or_collect  # a sibling script (experiments/ is on sys.path)

    commands_or_collect(
        __doc__.splitlines()[0],
        argv,
        runs=Path("runs/atari100k"),
        runs_help="folder of the runs' directories, named <game>_s<seed>",
        commands=lambda runs: [command(game, seed, runs) for game in GAMES for seed in SEEDS],
        collect=collect,
        output=("--results", ROOT / "bench" / "results", "folder of the figures"),
    )


if __name__ == "__main__":
    main()
