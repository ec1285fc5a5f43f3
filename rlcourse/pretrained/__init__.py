"""Small trained checkpoints shipped with the package, so every lesson can show a trained
agent, even in a smoke run, and the CSV files of the results the lessons show: the logs of
the runs that made the agents (their curves), other runs they are compared with, the studies'
measurements; and videos (MP4) of agents whose game is not installed everywhere. A lesson
finds them by name, ``path(name)``, never by a path relative to the notebook, so a student
in Colab (the package without the repository) sees the same results.

>>> path("dqn_cartpole.pt").name
'dqn_cartpole.pt'
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def available() -> list[str]:
    """Names of the shipped checkpoints, logs and videos."""
    folder = resources.files(__name__)
    return sorted(
        item.name for item in folder.iterdir() if item.name.endswith((".pt", ".csv", ".mp4"))
    )


def path(name: str) -> Path:
    """The file of a shipped checkpoint, log or video, e.g. ``path("dqn_cartpole.pt")``."""
    candidate = Path(str(resources.files(__name__) / name))
    if not candidate.is_file():
        raise FileNotFoundError(
            f"no pretrained checkpoint {name!r} in rlcourse/pretrained; available: {available()}"
        )
    return candidate
