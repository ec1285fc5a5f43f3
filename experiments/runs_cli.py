"""The command line of the experiment scripts that compare several training runs.

``SCRIPT commands --runs RUNS`` prints the runs' training commands (one core each);
``SCRIPT collect --runs RUNS`` evaluates the finished runs and writes the shipped files.
The scripts (``dqn_100k_ablation.py``, ``dqn_100k_seeds.py``, ``mario_ddqn.py``,
``nes_mario.py``) import it as a sibling: experiments/ is on ``sys.path`` when one of them
runs, and in their tests.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from pathlib import Path


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
