"""Lesson 07's results: the ``atari100k`` preset for 100k agent steps on Ms. Pac-Man and
Kung-Fu Master, three seeds each, every run scored on the 20 test games (the course's protocol).

Train the runs (one CPU core each, torch on one thread; 45-130 minutes a run on the course's
2-core machines), then collect:

    python experiments/dqn_100k_seeds.py commands --runs RUNS   # the training commands
    python experiments/dqn_100k_seeds.py collect --runs RUNS    # evaluate, write the files

``collect`` plays each finished ``RUNS/<game>_s<seed>/final.pt`` (and random play, once a
game) on the 20 test games and writes ``rlcourse/pretrained/dqn_100k_seeds_log.csv`` and
``..._scores.csv`` (the lesson reads them, in Colab too; the format of
:mod:`rlcourse.studies.ablation`) and one figure a game,
``bench/results/dqn_100k_seeds_<game>.png``.
A run missing from RUNS keeps the row the shipped files already hold for it (runs made in
another session or on another machine); one in neither is named and left out.

The median seed of each game (by mean score on the test games) ships as the lesson's agent:
a rule fixed before the runs, so the shipped agent is a typical run, not the luckiest one.
``collect`` prints its ``rlcourse export`` command (:func:`agent_file` names the file).
"""

from __future__ import annotations

from pathlib import Path

from runs_cli import median_seed  # a sibling script (experiments/ is on sys.path)

ROOT = Path(__file__).resolve().parents[1]
PRETRAINED = ROOT / "rlcourse" / "pretrained"
# short name -> (env id, title)
GAMES = {
    "mspacman": ("ALE/MsPacman-v5", "Ms. Pac-Man"),
    "kungfu": ("ALE/KungFuMaster-v5", "Kung-Fu Master"),
}
SEEDS = (0, 1, 2)
COMMON = "--preset atari100k --total-steps 100000 --threads 1 --checkpoint-every 25000"
SHIPPED = (PRETRAINED / "dqn_100k_seeds_log.csv", PRETRAINED / "dqn_100k_seeds_scores.csv")
# Published Atari 100k scores (Ms. Pac-Man, Kung-Fu Master), drawn as dashed lines.
PUBLISHED = {"DER": (1187, 6580), "DrQ(eps)": (1218, 11467), "BBF": (2008, 18992)}


def agent_file(game: str) -> str:
    """The shipped agent's file in rlcourse/pretrained/: its game's median seed."""
    return f"dqn_{game}_100k.pt"


def run_name(game: str, seed: int) -> str:
    return f"{game}_s{seed}"


def command(game: str, seed: int, runs: Path) -> str:
    return (
        f"rlcourse train dqn --env {GAMES[game][0]} {COMMON} --seed {seed} "
        f"--out {runs / run_name(game, seed)}"
    )


def collect(runs: Path, episodes: int, results: Path) -> list:
    import torch
    from runs_cli import check_finished, recorded_runs, score_runs

    from rlcourse.studies.ablation import summary, write_ablation

    torch.set_num_threads(1)
    recorded = recorded_runs(SHIPPED)
    check_finished(
        runs,
        {run_name(game, seed): command(game, seed, runs) for game in GAMES for seed in SEEDS},
        recorded,
    )
    variants = []
    for game, (_, title) in GAMES.items():
        labels = {run_name(game, seed): f"{title}, seed {seed}" for seed in SEEDS}
        random_play = (f"{game}_random", f"{title}, random play")
        variants += score_runs(runs, labels, recorded, episodes, random_play)
    write_ablation(variants, *SHIPPED)
    draw(results)
    print(summary(variants))
    for game in GAMES:
        if any(v.name.startswith(f"{game}_s") for v in variants):
            seed = median_seed(variants, game)
            print(
                f"{GAMES[game][1]}: the median seed is {seed}; ship it with "
                f"rlcourse export {runs / run_name(game, seed) / 'final.pt'} "
                f"rlcourse/pretrained/{agent_file(game)}"
            )
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
