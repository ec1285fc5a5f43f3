"""How much memory this machine has, and refusing a size it cannot hold before allocating it.

A replay memory of ``10**12`` transitions or a network with ``10**11`` hidden units would be
killed by the operating system (or fail deep inside NumPy or torch) after minutes of work;
:func:`refuse_if_too_big` says so at once, naming the size and the memory.
"""

from __future__ import annotations

import os

from rlcourse.errors import ResourceError


def available_memory() -> int | None:
    """Bytes of RAM the OS could still give this process, or None if it cannot tell.

    ``psutil`` when installed, else Linux's ``MemAvailable``, else free pages (``sysconf``).
    """
    try:
        import psutil
    except ImportError:
        pass
    else:
        return int(psutil.virtual_memory().available)
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024  # the file says kB, meaning KiB
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def total_memory() -> int | None:
    """Bytes of RAM this machine has in all, or None if it cannot tell.

    >>> total_memory() is None or total_memory() > 0
    True
    """
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def refuse_if_too_big(what: str, needed: float, advice: str = "") -> None:
    """Raise :class:`~rlcourse.errors.ResourceError` when ``needed`` bytes exceed this
    machine's whole memory: nothing could make them fit.

    >>> refuse_if_too_big("a network of 10**12 weights", 4e12)
    Traceback (most recent call last):
    ...
    rlcourse.errors.ResourceError: a network of 10**12 weights needs 4,000.0 GB, and this machine...
    """
    total = total_memory()
    if total is None or needed <= total:
        return
    raise ResourceError(
        f"{what} needs {needed / 1e9:,.1f} GB, and this machine has {total / 1e9:,.1f} GB of "
        f"memory in all{': ' + advice if advice else ''}"
    )
