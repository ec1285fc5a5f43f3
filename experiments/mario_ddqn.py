"""Lesson 06's results: Double DQN against DQN on Mario Bros. (ALE), same schedule, same seed.

Both runs are the ``atari100k`` preset (10-step returns, DrQ's shifts, dueling head, replay
ratio 1/2) for 100k agent steps on the "right_only" action set (RIGHT, RIGHTFIRE: random play
with it kicks a pest now and then, so the learner sees rewards; ``experiments/mario_actions.py``),
with 20,000 steps of exploration and the target network copied every 2,000 steps (the
preset copies it at every update, so that its Double DQN target is all but DQN's). The only
difference between the two: ``--double true`` or ``false``.

    python experiments/mario_ddqn.py commands --runs RUNS   # the two training commands
    python experiments/mario_ddqn.py collect --runs RUNS    # evaluate, measure, write the files

Train the runs (one CPU core each, torch on one thread; about 80-100 minutes a run on the
course's 2-core machines; ``--resume`` continues one), then ``collect`` scores each
``RUNS/<name>/final.pt`` and random play on the 20 test games (the course's protocol),
measures each agent's overestimation on the same games (the mean ``Q(s, a)`` it predicted
against the discounted return that followed, read while they are played: ``evaluate_run(...,
value_bias=True)``)
and writes ``rlcourse/pretrained/mario_ddqn_log.csv``, ``..._scores.csv`` (the format of
:mod:`rlcourse.studies.ablation`), ``..._value_bias.csv`` and ``bench/results/mario_ddqn.png``.
The Double DQN run ships as the lesson's agent
(``rlcourse export RUNS/ddqn_s0/final.pt rlcourse/pretrained/ddqn_mario.pt``).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRETRAINED = ROOT / "rlcourse" / "pretrained"
SEED = 0
# run name -> (--double, label)
RUNS = {"ddqn_s0": ("true", "Double DQN"), "dqn_s0": ("false", "DQN")}
COMMON = (
    "--env ALE/MarioBros-v5 --actions right_only --preset atari100k --total-steps 100000 "
    "--exploration-steps 20000 --target-update-interval 2000 --threads 1 --checkpoint-every 10000"
)
SHIPPED = (PRETRAINED / "mario_ddqn_log.csv", PRETRAINED / "mario_ddqn_scores.csv")
VALUE_BIAS = PRETRAINED / "mario_ddqn_value_bias.csv"
BIAS_FIELDS = (
    "variant",
    "label",
    "games",
    "steps_measured",
    "gamma",
    "predicted",
    "obtained",
    "overestimate",
)


def command(name: str, runs: Path) -> str:
    return f"rlcourse train dqn {COMMON} --double {RUNS[name][0]} --seed {SEED} --out {runs / name}"


def collect(runs: Path, episodes: int, results: Path) -> list:
    import torch

    from rlcourse.files import atomic_write
    from rlcourse.studies.ablation import evaluate_run, summary, write_ablation

    torch.set_num_threads(1)
    missing = [command(name, runs) for name in RUNS if not (runs / name / "final.pt").exists()]
    if missing:  # the comparison needs both
        sys.exit(f"not finished in {runs} (train, or resume with --resume):\n" + "\n".join(missing))
    variants, biases = [], []
    for index, (name, (_, label)) in enumerate(RUNS.items()):
        found = evaluate_run(
            runs / name, name, label, episodes=episodes, vs_random=index == 0, value_bias=True
        )  # the bias in the very games scored
        variants += found
        print(f"{label}: {found[-1].scores.mean():.1f} +- {found[-1].scores.std():.1f}", flush=True)
        bias = found[-1].value_bias
        print(f"{label}: {bias}", flush=True)
        biases.append(
            [
                name,
                label,
                bias.games,
                len(bias.predicted),
                bias.gamma,
                f"{bias.predicted.mean():.4f}",
                f"{bias.obtained.mean():.4f}",
                f"{bias.overestimate:.4f}",
            ]
        )
    variants[0].label = "random play (right_only)"
    write_ablation(variants, *SHIPPED)
    with atomic_write(VALUE_BIAS, suffix=".csv") as temporary, open(temporary, "w") as file:
        writer = csv.writer(file)
        writer.writerow(BIAS_FIELDS)
        writer.writerows(biases)
    draw(results / "mario_ddqn.png")
    print(summary(variants))
    return variants


def read_value_bias(path: Path = VALUE_BIAS) -> list[dict[str, str]]:
    """The value-bias rows ``collect`` wrote, one per run."""
    with path.open() as file:
        return list(csv.DictReader(file))


def draw(png: Path) -> Path:
    """The figure from the shipped CSVs (``make results`` calls this too)."""
    from rlcourse.studies.ablation import plot_ablation, read_ablation

    title = "Double DQN vs DQN, Mario Bros. ('right_only'), atari100k preset, 100k agent steps"
    plot_ablation(read_ablation(*SHIPPED), png, title=title)
    return png


def main(argv: list[str] | None = None) -> None:
    from runs_cli import commands_or_collect  # a sibling script (experiments/ is on sys.path)

    commands_or_collect(
        __doc__.splitlines()[0],
        argv,
        runs=Path("runs/mario"),
        runs_help="folder of the runs' directories (ddqn_s0, dqn_s0)",
        commands=lambda runs: [command(name, runs) for name in RUNS],
        collect=collect,
        output=("--results", ROOT / "bench" / "results", "folder of the figure"),
    )


if __name__ == "__main__":
    main()
