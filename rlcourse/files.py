"""Writing files so that nothing is ever half-written, and a failed write says why in one line.

Every file the course writes (checkpoints, logs, configs, figures, videos) goes through
:func:`atomic_write`: a temporary file next to the target, renamed over it only when
complete. A write that fails (a full disk, a read-only folder) raises :class:`WriteError`
naming the file and the cause, and leaves the previous file intact.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rlcourse.errors import WriteError

LOW_DISK_BYTES = 1 << 20
"""Free space below which a failed write is put down to a full disk (1 MiB)."""


def write_failure(path: str | os.PathLike, error: BaseException) -> WriteError:
    """The one-line error for a write of ``path`` that failed with ``error``: an
    :class:`OSError`'s cause in words, or a full disk when the folder has (almost) no free
    space left (torch and ffmpeg report a full disk as other errors)."""
    path = Path(path)
    if isinstance(error, OSError) and error.errno is not None:
        cause = os.strerror(error.errno)
    else:
        lines = str(error).strip().splitlines()
        cause = f"{type(error).__name__}: {lines[0] if lines else ''}"
    folder = next((p for p in (path.parent, *path.parents) if p.exists()), None)
    full = isinstance(error, OSError) and error.errno == errno.ENOSPC
    if full or (folder is not None and shutil.disk_usage(folder).free < LOW_DISK_BYTES):
        cause = "no space left on device (disk full)"
    return WriteError(f"cannot write {path}: {cause}; what was there before is intact")


@contextmanager
def atomic_write(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[str]:
    """Yield a temporary file name next to ``path``; on success it is renamed to ``path``.

    On any error the temporary file is removed and ``path`` keeps what it had: a crash or a
    Ctrl-C mid-write never leaves a broken checkpoint or video behind.

    >>> with atomic_write("/tmp/rlcourse-atomic.txt") as temporary:
    ...     _ = Path(temporary).write_text("complete")
    >>> Path("/tmp/rlcourse-atomic.txt").read_text()
    'complete'
    >>> Path("/tmp/rlcourse-atomic.txt").unlink()
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=suffix
        )
        os.close(handle)
    except OSError as error:
        raise write_failure(path, error) from None
    try:
        yield temporary
        os.chmod(temporary, 0o644)  # mkstemp makes it private; these files are for sharing
        os.replace(temporary, path)
    except WriteError:
        raise
    except OSError as error:
        raise write_failure(path, error) from None
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
