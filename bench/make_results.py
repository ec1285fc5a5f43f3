"""Draw the README's result figures from the committed CSV logs (`make results`).

Nothing is trained here: every figure comes from a log in the repository, so anyone can
check that the pictures show what the logs say.

- ``bench/results/dqn_mspacman.png``  from ``rlcourse/pretrained/dqn_mspacman_log.csv``
- ``bench/results/ddqn_mario.png``    from ``rlcourse/pretrained/ddqn_mario_log.csv``
- ``bench/results/overestimation.png`` from ``bench/results/overestimation.csv``
- ``bench/results/a2c_kungfu.png``    from ``bench/results/a2c_kungfu_*.csv``
- ``bench/results/dqn_100k_ablation.png`` from ``rlcourse/pretrained/dqn_100k_ablation_*.csv``
- ``bench/results/dqn_100k_seeds_<game>.png`` from ``rlcourse/pretrained/dqn_100k_seeds_*.csv``
- ``bench/results/mario_ddqn.png``    from ``rlcourse/pretrained/mario_ddqn_*.csv``
- ``bench/results/ddqn_nes_mario.png`` from ``rlcourse/pretrained/ddqn_nes_mario_*.csv``

    python bench/make_results.py [--out bench/results]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display needed

from rlcourse.metrics import MetricLogger  # noqa: E402
from rlcourse.overestimation import plot_overestimation, read_study_csv  # noqa: E402
from rlcourse.plots import plot_runs  # noqa: E402

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
        {"random, 18 actions (published)": 320, "random, 'right' set": 760},
    ),
}
A2C_TITLE = (
    "Recurrent A2C on Kung-Fu Master, 2 shared CPU cores "
    "(dashed: 10,000 points; dotted: 30 minutes)"
)
A2C_RUNS = {
    "a2c_kungfu_ale_cl.csv": "C++ games, lr decayed, channels-last convs (1.18x steps/s)",
    "a2c_kungfu_ale.csv": "C++ games, lr 7e-4 decayed (today's slower CPU)",
    "a2c_kungfu_final.csv": "lr 7e-4, entropy 0.001, episodic life (shipped)",
    "a2c_kungfu_episodic.csv": "lr 5e-4, entropy 0.01, episodic life",
    "a2c_kungfu_baseline.csv": "lr 5e-4, entropy 0.01",
}


def main(argv: list[str] | None = None) -> list[Path]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder of the PNGs")
    args = parser.parse_args(argv)
    written = []
    for name, (title, baselines) in DQN_RUNS.items():
        log = PRETRAINED / f"{name}_log.csv"
        if log.exists():
            metrics = MetricLogger.from_csv(log, window=100)
            metrics.plot(args.out / f"{name}.png", title=title, baselines=baselines)
            written.append(args.out / f"{name}.png")
    study = RESULTS / "overestimation.csv"
    if study.exists():
        plot_overestimation(read_study_csv(study), args.out / "overestimation.png")
        written.append(args.out / "overestimation.png")
    a2c_logs = [RESULTS / name for name in A2C_RUNS if (RESULTS / name).exists()]
    if a2c_logs:
        # Logs of rlcourse < 0.2 (old A2C columns): plot_runs reads them as they are.
        labels = [A2C_RUNS[path.name] for path in a2c_logs]
        png = args.out / "a2c_kungfu.png"
        plot_runs(a2c_logs, png, labels=labels, target=10_000, budget_minutes=30, n_actions=14,
                  title=A2C_TITLE)  # fmt: skip
        written.append(png)
    import dqn_100k_ablation  # sibling scripts: bench/ is on sys.path when one of it runs
    import dqn_100k_seeds
    import mario_ddqn
    import nes_mario

    if all(path.exists() for path in dqn_100k_ablation.SHIPPED):
        written.append(dqn_100k_ablation.draw(args.out / "dqn_100k_ablation.png"))
    if all(path.exists() for path in dqn_100k_seeds.SHIPPED):
        written += dqn_100k_seeds.draw(args.out)
    if all(path.exists() for path in mario_ddqn.SHIPPED):
        written.append(mario_ddqn.draw(args.out / "mario_ddqn.png"))
    if nes_mario.LOG.exists() and nes_mario.SCORES.exists():
        written.append(nes_mario.draw(args.out / "ddqn_nes_mario.png"))
    for path in written:
        print(f"wrote {Path(path).relative_to(ROOT) if Path(path).is_relative_to(ROOT) else path}")
    return written


if __name__ == "__main__":
    main()
