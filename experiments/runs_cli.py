"""The command line of the experiment scripts that compare several training runs.

``SCRIPT commands --runs RUNS`` prints the runs' training commands (one core each);
``SCRIPT collect --runs RUNS`` evaluates the finished runs and writes the shipped files
(:func:`score_runs` scores them and keeps the rows already shipped for runs made elsewhere).
The scripts (``dqn_100k_ablation.py``, ``dqn_100k_seeds.py``, ``mario_ddqn.py``,
``nes_mario.py``, ``ppo_kungfu_seeds.py``) import it as a sibling: experiments/ is on
``sys.path`` when one of them runs, and in their tests.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any


def commands_or_collect(
    description: str,
    argv: list[str] | None,
    *,
    runs: Path,
    runs_help: str,
    commands: Callable[[Path], Iterable[str]],
    collect: Callable[[Path, int, Path], object],
    output: tuple[str, Path, str],
) -> None:
    """Parse ``argv`` and print ``commands(runs)`` or call ``collect(runs, episodes, output)``.

    ``output``: the option naming where ``collect`` draws (flag, default, help).
    """
    import matplotlib

    matplotlib.use("Agg")  # files only
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("action", choices=("commands", "collect"))
    parser.add_argument("--runs", type=Path, default=runs, help=runs_help)
    parser.add_argument("--episodes", type=int, default=20, help="evaluation games per run")
    flag, default, help_text = output
    parser.add_argument(flag, dest="output", type=Path, default=default, help=help_text)
    args = parser.parse_args(argv)
    if args.action == "commands":
        print("\n".join(commands(args.runs)))
    else:
        collect(args.runs, args.episodes, args.output)


def recorded_runs(shipped: tuple[Path, Path]) -> dict[str, Any]:
    """The variants a script's shipped CSVs (log, scores) hold, by name; none before the first
    ``collect``."""
    from rlcourse.studies.ablation import read_ablation

    if not all(path.exists() for path in shipped):
        return {}
    return {variant.name: variant for variant in read_ablation(*shipped)}


def check_finished(runs: Path, commands: Mapping[str, str], recorded: Mapping[str, Any]) -> None:
    """Name the runs (``commands``: name -> training command) neither finished in ``runs`` nor
    recorded; stop, with their commands, when no run in ``runs`` has finished."""
    missing = [
        command
        for name, command in commands.items()
        if not (runs / name / "final.pt").exists() and name not in recorded
    ]
    if not any((runs / name / "final.pt").exists() for name in commands):
        sys.exit(f"no finished run in {runs}; train them first:\n" + "\n".join(missing))
    if missing:  # the files hold the finished runs; collect again when the rest are done
        print("not finished, left out (train, or resume with --resume):\n" + "\n".join(missing))


def score_runs(
    runs: Path,
    labels: Mapping[str, str],
    recorded: Mapping[str, Any],
    episodes: int,
    random_play: tuple[str, str] | None = None,
) -> list[Any]:
    """Score each finished run ``runs/<name>/final.pt`` of ``labels`` (name -> label) on the
    test games (:func:`rlcourse.studies.ablation.evaluate_run`), in the order of ``labels``.

    A run not finished in ``runs`` keeps its ``recorded`` variant (made in another session or
    on another machine); one in neither is left out. With ``random_play`` (name, label),
    random play on the same games comes first: played beside the first run scored here, else
    the recorded one.
    """
    from rlcourse.studies import ablation

    found: dict[str, Any] = {}
    for name, label in labels.items():
        if not (runs / name / "final.pt").exists():
            if name in recorded:
                print(f"{name}: not in {runs}, its shipped row kept", flush=True)
                found[name] = recorded[name]
            continue
        with_random = random_play is not None and random_play[0] not in found
        scored = ablation.evaluate_run(
            runs / name, name, label, episodes=episodes, vs_random=with_random
        )
        if with_random:
            assert random_play is not None
            scored[0].name, scored[0].label = random_play
            found[random_play[0]] = scored[0]
        found[name] = scores = scored[-1]
        print(f"{name}: {scores.scores.mean():.1f} +- {scores.scores.std():.1f}", flush=True)
    if random_play is not None and random_play[0] not in found and random_play[0] in recorded:
        found[random_play[0]] = recorded[random_play[0]]
    random_first = sorted(found, key=lambda name: random_play is None or name != random_play[0])
    return [found[name] for name in random_first]


def median_seed(variants: Sequence[Any], group: str) -> int:
    """The seed of ``group``'s median run (runs named ``<group>_s<seed>``) by mean test score,
    the lower middle one for an even number of runs: the run a script ships, by a rule fixed
    before the runs, so the shipped agent is a typical run, not the luckiest one."""
    mine = [v for v in variants if v.name.startswith(f"{group}_s")]
    if not mine:
        raise ValueError(f"no run of {group!r} among {[v.name for v in variants]}")
    ranked = sorted(mine, key=lambda v: float(v.scores.mean()))
    return int(ranked[(len(ranked) - 1) // 2].name.rsplit("_s", 1)[1])
