"""Lesson 10's results: PPO against lesson 09's recurrent A2C on Kung-Fu Master, the same
60-minute budget a run, three seeds each, every run scored on the 20 test games.

Each run gets one CPU core for 60 minutes (``--max-minutes 60``, torch on one thread; pin it
with ``taskset -c CORE`` and train two runs side by side on a 2-core machine), then collect:

    python experiments/ppo_kungfu_seeds.py commands --runs RUNS   # the training commands
    python experiments/ppo_kungfu_seeds.py collect --runs RUNS    # evaluate, write the files

``collect`` plays each finished ``RUNS/<method>_s<seed>/final.pt`` (and random play, once) on
the 20 test games and writes ``rlcourse/pretrained/ppo_kungfu_seeds_log.csv`` and
``..._scores.csv`` (the format of :mod:`rlcourse.studies.ablation`, with each run's
evaluations during training) and the figure ``bench/results/ppo_kungfu_seeds.png``. A run
missing from RUNS keeps the rows the shipped files already hold for it; one in neither is
named and left out. With 3 runs of each method, it prints each method's IQM over runs x games
with its 95% interval and their difference.

The median PPO seed (by mean test score) ships as lesson 10's agent, ``ppo_kungfu.pt``: a
rule fixed before the runs, so the shipped agent is a typical run, not the luckiest one.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from runs_cli import median_seed  # a sibling script (experiments/ is on sys.path)

ROOT = Path(__file__).resolve().parents[1]
PRETRAINED = ROOT / "rlcourse" / "pretrained"
ENV = "ALE/KungFuMaster-v5"
SEEDS = (0, 1, 2)
MINUTES = 60


class Method(NamedTuple):
    name: str
    """The method's short name, as in the figure's title."""
    label: str
    """How a run of it is labelled in the scores and the figure."""
    options: str
    """Its ``rlcourse train`` options beside the shared budget, seed and folder."""


# PPO: lesson 10's command (CleanRL's Atari settings); its learning rate anneals over the
# steps one core makes in 60 minutes (1M in 54-58 minutes).
# A2C: lesson 09's command (Practical_RL's network, C++ games, 5-step rollouts), annealed over
# its own 60 minutes of steps (a 2-minute probe on one pinned core: ~1,690 steps/s, ~6M; the
# runs made their 6M in 51-53 minutes).
METHODS = {
    "ppo": Method(
        "PPO",
        "PPO",
        "--total-steps 1000000 --lr-decay-steps 1000000 --eval-every 100000 --eval-episodes 8 "
        "--checkpoint-every 50000",
    ),
    "a2c": Method(
        "A2C",
        "A2C (lesson 09)",
        "--vectorization ale --env-threads 2 --rollout-length 5 --total-steps 6000000 "
        "--lr-decay-steps 6000000 --eval-every 500000 --eval-episodes 8 "
        "--checkpoint-every 500000",
    ),
}
SHIPPED = (PRETRAINED / "ppo_kungfu_seeds_log.csv", PRETRAINED / "ppo_kungfu_seeds_scores.csv")
AGENT = PRETRAINED / "ppo_kungfu.pt"
TARGET = 10_000  # the course's bar: a 20-game mean of 10,000


def run_name(method: str, seed: int) -> str:
    return f"{method}_s{seed}"


def command(method: str, seed: int, runs: Path) -> str:
    return (
        f"rlcourse train {method} --env {ENV} {METHODS[method].options} --max-minutes {MINUTES} "
        f"--threads 1 --seed {seed} --out {runs / run_name(method, seed)}"
    )


def compare(variants: list) -> str:
    """Each method's IQM over runs x games with its 95% interval (3 runs or more), and with 3
    runs of both, PPO minus A2C with its interval."""
    from rlcourse.studies.ablation import seed_difference, seed_intervals

    runs_of = {
        method: [v for v in variants if v.name.startswith(f"{method}_s")] for method in METHODS
    }
    groups = {METHODS[m].label: runs for m, runs in runs_of.items() if runs}
    names = (METHODS["ppo"].name, METHODS["a2c"].name)
    return seed_intervals(groups) + "\n" + seed_difference(runs_of["ppo"], runs_of["a2c"], names)


def collect(runs: Path, episodes: int, results: Path) -> list:
    import torch
    from runs_cli import check_finished, recorded_runs, score_runs

    from rlcourse.studies.ablation import summary, write_ablation

    torch.set_num_threads(1)
    recorded = recorded_runs(SHIPPED)
    names = {run_name(m, s): command(m, s, runs) for m in METHODS for s in SEEDS}
    check_finished(runs, names, recorded)
    labels = {
        run_name(method, seed): f"{METHODS[method].label}, seed {seed}"
        for method in METHODS
        for seed in SEEDS
    }
    variants = score_runs(runs, labels, recorded, episodes, ("random", "random play"))
    write_ablation(variants, *SHIPPED)
    draw(results)
    print(summary(variants))
    print(compare(variants))
    if any(v.name.startswith("ppo_s") for v in variants):
        seed = median_seed(variants, "ppo")
        print(
            f"the median PPO seed is {seed}; ship it with rlcourse export --fp32 "
            f"{runs / run_name('ppo', seed) / 'final.pt'} {AGENT.relative_to(ROOT)}"
        )
    return variants


def draw(results: Path) -> Path:
    """The figure from the shipped CSVs (``make results`` calls this too)."""
    from rlcourse.studies.ablation import plot_ablation, read_ablation

    png = results / "ppo_kungfu_seeds.png"
    variants = read_ablation(*SHIPPED)
    methods = [m for m in METHODS if any(v.name.startswith(f"{m}_s") for v in variants)]
    names = " and ".join(METHODS[m].name for m in methods)
    title = f"{names} on Kung-Fu Master, {MINUTES} minutes of one CPU core a run"
    # Against training minutes, the budget both share: PPO's training returns are clipped,
    # A2C's are not, and an A2C step costs a sixth of PPO's time.
    plot_ablation(
        variants,
        png,
        baselines={"the target, 10,000": TARGET},
        title=title,
        curves="evaluations",
    )
    return png


def main(argv: list[str] | None = None) -> None:
    from runs_cli import commands_or_collect  # a sibling script (experiments/ is on sys.path)

    commands_or_collect(
        __doc__.splitlines()[0],
        argv,
        runs=Path("runs/ppo_kungfu"),
        runs_help="folder of the runs' directories, named <method>_s<seed>",
        commands=lambda runs: [command(m, s, runs) for m in METHODS for s in SEEDS],
        collect=collect,
        output=("--results", ROOT / "bench" / "results", "folder of the figure"),
    )


if __name__ == "__main__":
    main()
