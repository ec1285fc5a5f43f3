"""Draw the result figures (docs/results.md) from the committed CSV logs (`make results`).

Nothing is trained here: every figure comes from a log in the repository, so anyone can
check that the pictures show what the logs say.

- ``bench/results/dqn_mspacman.png``  from ``rlcourse/pretrained/dqn_mspacman_log.csv``
- ``bench/results/ddqn_mario.png``    from ``rlcourse/pretrained/ddqn_mario_log.csv``
- ``bench/results/overestimation.png`` from ``rlcourse/pretrained/overestimation.csv``
- ``bench/results/a2c_kungfu.png``    from ``rlcourse/pretrained/a2c_kungfu_*.csv`` (lesson 09)
- ``bench/results/a2c_kungfu_cpp.png`` from ``bench/results/a2c_kungfu_*.csv`` (the runs on ale-py's
  C++ games)
- ``bench/results/a2c_kungfu_levers.png`` from the same folder (4 clipped epochs, 84x84 frames)
- ``bench/results/a2c_kungfu_survival.png`` from the same folder (stacked frames, gamma 0.995)
- ``bench/results/dqn_100k_ablation.png`` from ``rlcourse/pretrained/dqn_100k_ablation_*.csv``
- ``bench/results/dqn_100k_seeds_<game>.png`` from ``rlcourse/pretrained/dqn_100k_seeds_*.csv``
- ``bench/results/mario_ddqn.png``    from ``rlcourse/pretrained/mario_ddqn_*.csv``
- ``bench/results/ddqn_nes_mario.png`` from ``rlcourse/pretrained/ddqn_nes_mario_*.csv``
- ``bench/results/ppo_kungfu_seeds.png`` from ``rlcourse/pretrained/ppo_kungfu_seeds_*.csv``
- ``bench/results/mario_held.png``    from ``bench/results/mario_held_*.csv`` (held exploration)

    python tools/make_results.py [--out bench/results]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display needed

from rlcourse.metrics import MetricLogger  # noqa: E402
from rlcourse.plots import plot_metrics, plot_runs  # noqa: E402
from rlcourse.studies.overestimation import plot_overestimation, read_study_csv  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PRETRAINED = ROOT / "rlcourse" / "pretrained"
RESULTS = ROOT / "bench" / "results"

DQN_RUNS = {
    "dqn_mspacman": (
        "DQN on Ms. Pac-Man, 300k agent steps, 2 CPU cores",
        {"random": 308, "Nature DQN (50M frames)": 2311},
    ),
    "ddqn_mario": (
        "Double DQN on Mario Bros. ('right' action set), 300k agent steps, 2 CPU cores",
        {"random, 'right' set": 760},
    ),
}
A2C_TITLE = (
    "Recurrent A2C on Kung-Fu Master, 2 shared CPU cores "
    "(dashed: 10,000 points; dotted: 30 minutes)"
)
A2C_CPP_TITLE = (
    "Recurrent A2C on Kung-Fu Master, ale-py's C++ games, lr decayed to 0, 2 CPU cores "
    "(dashed: 10,000 points; dotted: 30 minutes)"
)
A2C_RUNS = {
    "a2c_kungfu_log.csv": "lr 7e-4, entropy 0.001, episodic life (shipped)",
    "a2c_kungfu_episodic.csv": "lr 5e-4, entropy 0.01, episodic life",
    "a2c_kungfu_baseline.csv": "lr 5e-4, entropy 0.01",
}
# The 30-minute runs on ale-py's C++ games (docs/results.md, "The C++ pool ..."): one figure
# of their own.
A2C_CPP_RUNS = {
    "a2c_kungfu_ale.csv": "16 games x 10 steps (705 steps/s)",
    "a2c_kungfu_ale_cl.csv": "the same, channels-last convs (834 steps/s)",
    "a2c_kungfu_r5_s0.csv": "16 games x 5 steps (1,166 steps/s)",
    "a2c_kungfu_r5_s1.csv": "16 games x 5 steps, seed 1 (1,450 steps/s)",
    "a2c_kungfu_r5_s2.csv": "16 games x 5 steps, seed 2 (1,253 steps/s)",
    "a2c_kungfu_n32_s0.csv": "32 games x 5 steps (1,405 steps/s)",
}
# Two other levers against the 16 x 5 run (docs/results.md, "Four clipped epochs, a bigger
# picture").
A2C_LEVERS_TITLE = (
    "Kung-Fu Master: 4 clipped epochs, 84x84 frames and 42x42 A2C, lr decayed, 2 CPU cores "
    "(dashed: 10,000 points; dotted: 30 minutes)"
)
A2C_LEVER_RUNS = {
    "a2c_kungfu_r5_s0.csv": "A2C, 16 games x 5 steps, 42x42 (1,166 steps/s)",
    "a2c_kungfu_ppo4_r10_s0.csv": "4 clipped epochs a rollout, 16 x 10, lr 2.5e-4 (678 steps/s)",
    "a2c_kungfu_ppo4_r10_s1.csv": "the same, seed 1 (708 steps/s)",
    "a2c_kungfu_s84_r5_s0.csv": "A2C, 16 x 5, 84x84 (644 steps/s)",
    "a2c_kungfu_s84_r5_s1.csv": "A2C, 16 x 5, 84x84, seed 1 (651 steps/s)",
}
# Seed 0's 16 x 5 command run again, and two levers on it (docs/results.md, "How the agents lose").
A2C_SURVIVAL_TITLE = (
    "Kung-Fu Master, A2C 16 x 5 on the C++ pool: seed 0's command again, 4 stacked frames, "
    "gamma 0.995 (seeds 0, 1)\n(dashed: 10,000 points; dotted: 30 minutes)"
)
A2C_SURVIVAL_RUNS = {
    "a2c_kungfu_r5_s0_again.csv": "16 x 5, 42x42, 1 frame, gamma 0.99 (again)",
    "a2c_kungfu_fs4_s0.csv": "the same, 4 stacked frames",
    "a2c_kungfu_g995_s0.csv": "the same, gamma 0.995",
    "a2c_kungfu_g995_s1.csv": "the same, gamma 0.995, seed 1",
}
# Mario Bros. on "walk_and_fire" with held exploration (docs/results.md, "Held exploration on the
# 6-action set"): two pairs of the same command, on two machines.
MARIO_HELD_TITLE = (
    "Mario Bros. 'walk_and_fire', held exploration: Double DQN vs DQN, 5-game evaluations\n"
    "(dashed: twice random play's 100-game mean)"
)
MARIO_HELD_RUNS = {
    "mario_held_ddqn_300k.csv": "Double DQN, run 1",
    "mario_held_dqn_300k.csv": "DQN, run 1",
    "mario_held_ddqn_run2.csv": "Double DQN, run 2",
    "mario_held_dqn_run2.csv": "DQN, run 2",
}
MARIO_WALK_AND_FIRE_RANDOM = 336  # bench/results/mario_actions.md, 100 games


def _log(name: str) -> Path:
    """A run's log: shipped with the package (the logs the lessons read) or in bench/results."""
    shipped = PRETRAINED / name
    return shipped if shipped.exists() else RESULTS / name


def main(argv: list[str] | None = None) -> list[Path]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder of the PNGs")
    args = parser.parse_args(argv)
    written = []
    for name, (title, baselines) in DQN_RUNS.items():
        log = PRETRAINED / f"{name}_log.csv"
        if log.exists():
            metrics = MetricLogger.from_csv(log, window=100)
            plot_metrics(metrics, args.out / f"{name}.png", title=title, baselines=baselines)
            written.append(args.out / f"{name}.png")
    study = PRETRAINED / "overestimation.csv"
    if study.exists():
        plot_overestimation(read_study_csv(study), args.out / "overestimation.png")
        written.append(args.out / "overestimation.png")
    # Figures of whole runs compared (plot_runs); it also reads the logs of rlcourse < 0.2 (old
    # A2C columns) as they are.
    kung_fu = {"target": 10_000, "budget_minutes": 30, "n_actions": 14}
    run_figures = (
        ("a2c_kungfu.png", A2C_RUNS, A2C_TITLE, kung_fu),
        ("a2c_kungfu_cpp.png", A2C_CPP_RUNS, A2C_CPP_TITLE, kung_fu),
        ("a2c_kungfu_levers.png", A2C_LEVER_RUNS, A2C_LEVERS_TITLE, kung_fu),
        ("a2c_kungfu_survival.png", A2C_SURVIVAL_RUNS, A2C_SURVIVAL_TITLE, kung_fu),
        (
            "mario_held.png",
            MARIO_HELD_RUNS,
            MARIO_HELD_TITLE,
            {"target": 2 * MARIO_WALK_AND_FIRE_RANDOM},
        ),
    )
    for png_name, runs, title, options in run_figures:
        logs = [path for path in map(_log, runs) if path.exists()]
        if logs:
            png = args.out / png_name
            plot_runs(logs, png, labels=[runs[path.name] for path in logs], title=title, **options)
            written.append(png)
    if str(ROOT / "experiments") not in sys.path:  # the experiment scripts draw their own figures
        sys.path.insert(0, str(ROOT / "experiments"))
    import dqn_100k_ablation
    import dqn_100k_seeds
    import mario_ddqn
    import nes_mario
    import ppo_kungfu_seeds

    if all(path.exists() for path in dqn_100k_ablation.SHIPPED):
        written.append(dqn_100k_ablation.draw(args.out / "dqn_100k_ablation.png"))
    if all(path.exists() for path in dqn_100k_seeds.SHIPPED):
        written += dqn_100k_seeds.draw(args.out)
    if all(path.exists() for path in mario_ddqn.SHIPPED):
        written.append(mario_ddqn.draw(args.out / "mario_ddqn.png"))
    if nes_mario.LOG.exists() and nes_mario.SCORES.exists():
        written.append(nes_mario.draw(args.out / "ddqn_nes_mario.png"))
    if all(path.exists() for path in ppo_kungfu_seeds.SHIPPED):
        written.append(ppo_kungfu_seeds.draw(args.out))
    for path in written:
        print(f"wrote {Path(path).relative_to(ROOT) if Path(path).is_relative_to(ROOT) else path}")
    return written


if __name__ == "__main__":
    main()
