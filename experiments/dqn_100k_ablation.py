"""Lesson 07's ablation: data-efficient DQN built one idea at a time, 100k agent steps of
Ms. Pac-Man per variant, seed 0, then 20 whole games each (the course's protocol).

Each variant adds one idea to the one before; the last is the course's ``atari100k`` preset.
Train them (one CPU core each, torch on one thread; 50-120 minutes a variant on the
course's 2-core machines), then collect:

    python experiments/dqn_100k_ablation.py commands --runs RUNS   # the training commands
    python experiments/dqn_100k_ablation.py collect --runs RUNS    # evaluate, write the files

``collect`` plays each ``RUNS/<variant>/final.pt`` (and random play) on the 20 test games
and writes ``rlcourse/pretrained/dqn_100k_ablation_log.csv`` and ``..._scores.csv`` (the
lesson reads them, in Colab too) and ``bench/results/dqn_100k_ablation.png``. The command
recorded for each variant is the one its run was made with (from its checkpoint).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRETRAINED = ROOT / "rlcourse" / "pretrained"
GAME = "ALE/MsPacman-v5"
COMMON = "--preset atari100k --total-steps 100000 --seed 0 --threads 1 --checkpoint-every 25000"
# name -> (label, flags that undo the ideas not added yet; the preset has them all)
VARIANTS = {
    "dqn": ("DQN", "--dueling false --n-step 1 --random-shift 0 --train-frequency 4"),
    "dueling": ("+ dueling head", "--n-step 1 --random-shift 0 --train-frequency 4"),
    "nstep": ("+ 10-step returns", "--random-shift 0 --train-frequency 4"),
    "shift": ("+ random shift", "--train-frequency 4"),
    "replay_ratio": ("+ replay ratio 0.5", ""),
}
SHIPPED = (PRETRAINED / "dqn_100k_ablation_log.csv", PRETRAINED / "dqn_100k_ablation_scores.csv")
# Published Atari 100k scores (Ms. Pac-Man), drawn as dashed lines.
PUBLISHED = {"DER": 1187, "DrQ(eps)": 1218, "BBF": 2008}


def command(name: str, runs: Path) -> str:
    words = ["rlcourse train dqn --env", GAME, COMMON, VARIANTS[name][1], "--out", str(runs / name)]
    return " ".join(word for word in words if word)


def collect(runs: Path, episodes: int, out_png: Path) -> list:
    import torch

    from rlcourse.studies.ablation import evaluate_run, summary, write_ablation

    torch.set_num_threads(1)
    variants = []
    for name, (label, _) in VARIANTS.items():
        if not (runs / name / "final.pt").exists():
            sys.exit(
                f"{runs / name / 'final.pt'} is missing: train it first ({command(name, runs)})"
            )
        # Random play on the same games once, with the first variant.
        variants += evaluate_run(
            runs / name, name, label, episodes=episodes, vs_random=not variants
        )
        print(
            f"{label}: {variants[-1].scores.mean():.1f} +- {variants[-1].scores.std():.1f}",
            flush=True,
        )
    write_ablation(variants, *SHIPPED)
    draw(out_png)
    print(summary(variants))
    return variants


def draw(out_png: Path) -> Path:
    """The figure of docs/results.md, from the shipped CSVs (``make results`` calls this too)."""
    from rlcourse.studies.ablation import plot_ablation, read_ablation

    title = "Data-efficient DQN on Ms. Pac-Man, 100k agent steps, one idea at a time"
    plot_ablation(read_ablation(*SHIPPED), out_png, baselines=PUBLISHED, title=title)
    return out_png


def main(argv: list[str] | None = None) -> None:
    from runs_cli import commands_or_collect  # a sibling script (experiments/ is on sys.path)

    commands_or_collect(
        __doc__.splitlines()[0],
        argv,
        runs=Path("runs/ablation"),
        runs_help="folder of the variants' run directories",
        commands=lambda runs: [command(name, runs) for name in VARIANTS],
        collect=collect,
        output=("--png", ROOT / "bench" / "results" / "dqn_100k_ablation.png", "the figure"),
    )


if __name__ == "__main__":
    main()
