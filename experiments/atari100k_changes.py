"""Issue #33's per-change table: which of DrQ(eps)'s settings matter on Kung-Fu Master at 100k
agent steps, one change at a time from the course's ``atari100k`` preset, 3 seeds each.

Every variant spells out the four settings it compares (replay ratio, target copies, gradient
clipping, Adam's epsilon), so its runs stay the same whatever the preset's defaults become.
Train the runs (one CPU core each, torch on one thread; 45-115 minutes a run on the course's
2-core machines, with one code version for all of them), then collect:

    python experiments/atari100k_changes.py commands --runs RUNS   # the training commands
    python experiments/atari100k_changes.py collect --runs RUNS    # evaluate, write the table

``collect`` plays each finished ``RUNS/<variant>_s<seed>/final.pt`` on the 20 test games
(seeds 50,000+) at the course's evaluation epsilon (0.05) and at the papers' (0.001), keeps
the scores in ``RUNS/<variant>_s<seed>/test_scores.csv`` (a second collect reuses them),
writes every game's score to ``bench/results/atari100k_changes.csv`` and prints the table:
each variant's IQM over its runs x games with a 95% stratified-bootstrap interval, and its
difference from the preset. Unfinished runs are named and left out.
"""

from __future__ import annotations

import csv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GAME = "ALE/KungFuMaster-v5"
SEEDS = (0, 1, 2)
EPSILONS = (0.05, 0.001)
# Runs a variant (and the preset) needs before its difference from the preset is estimated.
MIN_RUNS = 3
COMMON = (
    "--preset atari100k --total-steps 100000 --threads 1 --checkpoint-every 10000 --no-progress"
)
PRESET = "--train-frequency 2 --target-update-interval 2 --max-grad-norm 10 --adam-eps 1e-8"
# name -> (what changed from the preset of lesson 07, the four settings)
VARIANTS = {
    "preset": ("nothing: replay ratio 0.5, clipping at 10, Adam eps 1e-8", PRESET),
    "replay_ratio_1": (
        "replay ratio 1 (an update every step; the target copied every 2 updates)",
        "--train-frequency 1 --target-update-interval 2 --max-grad-norm 10 --adam-eps 1e-8",
    ),
    "adam_eps": (
        "Adam eps 1.5e-4",
        "--train-frequency 2 --target-update-interval 2 --max-grad-norm 10 --adam-eps 1.5e-4",
    ),
    "drq_eps": (
        "all of DrQ(eps)'s: replay ratio 1, target copied every update, no clipping, "
        "Adam eps 1.5e-4",
        "--train-frequency 1 --target-update-interval 1 --max-grad-norm none --adam-eps 1.5e-4",
    ),
}
TABLE = ROOT / "bench" / "results" / "atari100k_changes.csv"
FIELDS = ("variant", "seed", "epsilon", "first_game_seed", "minutes", "mean", "scores", "command")


def run_name(variant: str, seed: int) -> str:
    return f"{variant}_s{seed}"


def command(variant: str, seed: int, runs: Path) -> str:
    return (
        f"rlcourse train dqn --env {GAME} {COMMON} {VARIANTS[variant][1]} --seed {seed} "
        f"--out {runs / run_name(variant, seed)}"
    )


def test_scores(run: Path, episodes: int) -> dict[float, list[float]]:
    """The run's final weights on the test games at each of :data:`EPSILONS` (cached)."""
    from rlcourse.evaluation import TEST_SEED, evaluate_checkpoint
    from rlcourse.files import atomic_write

    cache = run / "test_scores.csv"
    if cache.exists():
        with open(cache, newline="") as file:
            found = {
                float(r["epsilon"]): [float(s) for s in r["scores"].split()]
                for r in csv.DictReader(file)
            }
        if all(len(found.get(eps, ())) == episodes for eps in EPSILONS):
            return found
    found = {}
    for eps in EPSILONS:
        result = evaluate_checkpoint(run / "final.pt", episodes, TEST_SEED, epsilon=eps)
        found[eps] = [float(s) for s in result.scores]
    with atomic_write(cache, suffix=".csv") as temporary, open(temporary, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(("epsilon", "scores"))
        for eps, scores in found.items():
            writer.writerow((eps, " ".join(f"{s:g}" for s in scores)))
    return found


def made_with(run: Path) -> tuple[str, float]:
    """The command the run was made with (from its checkpoint) and its training minutes."""
    from rlcourse.checkpoints import load_checkpoint
    from rlcourse.metrics import read_csv
    from rlcourse.studies.ablation import recorded_command

    config = load_checkpoint(run / "final.pt")["config"]
    log = read_csv(run / "log.csv")
    return recorded_command(run, config), float(log["wall_seconds"][-1]) / 60


def collect(runs: Path, episodes: int, table: Path) -> dict[str, dict[float, list[list[float]]]]:
    import torch
    from runs_cli import check_finished  # a sibling script (experiments/ is on sys.path)

    from rlcourse.evaluation import TEST_SEED
    from rlcourse.files import atomic_write

    torch.set_num_threads(1)
    names = [(v, s) for v in VARIANTS for s in SEEDS]
    check_finished(runs, {run_name(v, s): command(v, s, runs) for v, s in names}, recorded={})
    rows, found = [], {}
    for variant, seed in names:
        run = runs / run_name(variant, seed)
        if not (run / "final.pt").exists():
            continue
        made_by, minutes = made_with(run)
        for eps, scores in test_scores(run, episodes).items():
            found.setdefault(variant, {}).setdefault(eps, []).append(scores)
            text = " ".join(f"{s:g}" for s in scores)
            mean = f"{sum(scores) / len(scores):.1f}"
            rows.append((variant, seed, eps, TEST_SEED, f"{minutes:.1f}", mean, text, made_by))
    with atomic_write(table, suffix=".csv") as temporary, open(temporary, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(FIELDS)
        writer.writerows(rows)
    print(summary(found))
    return found


def read_table(path: Path) -> dict[str, dict[float, list[list[float]]]]:
    """variant -> epsilon -> one list of game scores per run, from :func:`collect`'s CSV."""
    found: dict[str, dict[float, list[list[float]]]] = {}
    with open(path, newline="") as file:
        for row in csv.DictReader(file):
            scores = [float(s) for s in row["scores"].split()]
            found.setdefault(row["variant"], {}).setdefault(float(row["epsilon"]), []).append(
                scores
            )
    return found


def estimates(found: dict[str, dict[float, list[list[float]]]]) -> dict[tuple[str, float], tuple]:
    """(variant, epsilon) -> (IQM over its runs x games with a 95% interval, its difference
    from the preset's with a 95% interval or None). With one run there is no interval: the
    IQM alone. A difference needs :data:`MIN_RUNS` runs on both sides (the course's rule for
    a comparison); with fewer it is None."""
    from rlcourse.stats import Estimate, bootstrap_ci, difference_ci, iqm

    table: dict[tuple[str, float], tuple] = {}
    preset = found.get("preset", {})
    for variant, by_eps in found.items():
        for eps, runs in by_eps.items():
            if len(runs) < 2:  # a bootstrap of one run has no spread
                table[variant, eps] = (float(iqm(runs)), None)
                continue
            difference: Estimate | None = None
            if variant != "preset" and min(len(runs), len(preset.get(eps, ()))) >= MIN_RUNS:
                difference = difference_ci(runs, preset[eps], rng=0)
            table[variant, eps] = (bootstrap_ci(runs, rng=0), difference)
    return table


def summary(found: dict[str, dict[float, list[list[float]]]]) -> str:
    """A markdown table of :func:`estimates`: a difference whose interval leaves out 0
    separates the variant from the preset."""
    from rlcourse.stats import format_number

    head = ["variant", "changed from the preset", "runs"]
    for eps in EPSILONS:
        head += [f"IQM, eps {eps:g}", f"minus the preset, eps {eps:g}"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    table = estimates(found)
    for variant, by_eps in found.items():
        cells = [variant, VARIANTS.get(variant, ("?",))[0], str(len(next(iter(by_eps.values()))))]
        for eps in EPSILONS:
            value, difference = table.get((variant, eps), ("-", None))
            if isinstance(value, float):
                value = f"IQM {format_number(value)} (1 run: no interval)"
            if difference is None and variant != "preset":
                runs = len(by_eps.get(eps, ()))
                difference = (
                    f"{runs} run{'s' if runs != 1 else ''}: fewer than {MIN_RUNS}, no comparison"
                )
            cells += [str(value), str(difference) if difference else "-"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    from runs_cli import commands_or_collect  # a sibling script (experiments/ is on sys.path)

    commands_or_collect(
        __doc__.splitlines()[0],
        argv,
        runs=Path("runs/atari100k_changes"),
        runs_help="folder of the runs' directories, named <variant>_s<seed>",
        commands=lambda runs: [command(v, s, runs) for v in VARIANTS for s in SEEDS],
        collect=collect,
        output=("--table", TABLE, "the CSV of every game's score"),
    )


if __name__ == "__main__":
    main()
