"""Writing files so that nothing is ever half-written."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_write(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[str]:
    """Yield a temporary file name next to ``path``; on success it is renamed to ``path``.

    On any error the temporary file is removed and ``path`` keeps what it had: a crash or a
    Ctrl-C mid-write never leaves a broken checkpoint or video behind.

    >>> with atomic_write("/tmp/rlcourse-atomic.txt") as temporary:
    ...     _ = Path(temporary).write_text("complete")
    >>> Path("/tmp/rlcourse-atomic.txt").read_text()
    'complete'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(handle)
    try:
        yield temporary
        os.chmod(temporary, 0o644)  # mkstemp makes it private; these files are for sharing
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
