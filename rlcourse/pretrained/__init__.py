"""Small trained checkpoints shipped with the package, so every lesson can show a trained
agent, even in a smoke run, and the CSV logs of the runs that made them (for their curves).

>>> path("dqn_cartpole.pt").name
'dqn_cartpole.pt'
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def available() -> list[str]:
    """Names of the shipped checkpoints and logs."""
    folder = resources.files(__name__)
    return sorted(item.name for item in folder.iterdir() if item.name.endswith((".pt", ".csv")))


def path(name: str) -> Path:
    """The file of a shipped checkpoint or log, e.g. ``path("dqn_cartpole.pt")``."""
    candidate = Path(str(resources.files(__name__) / name))
    if not candidate.is_file():
        raise FileNotFoundError(
            f"no pretrained checkpoint {name!r} in rlcourse/pretrained; available: {available()}"
        )
    return candidate
