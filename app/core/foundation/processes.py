"""Which process wrote a row: a pid plus its start time, so a reused pid is not mistaken
for the writer (streaming answers, budget reservations)."""

from __future__ import annotations

import functools
import os

# Start times come from the OS clock at a resolution of 1/100 s on Linux, and psutil
# derives them from the boot time, which it reads to the second.
_START_TOLERANCE_S = 1.0


def process_started(pid: int) -> float | None:
    """When process `pid` started (seconds since the epoch), None when it can't be read."""
    import psutil

    try:
        return float(psutil.Process(pid).create_time())
    except psutil.Error:
        return None


def writer_alive(pid: int, started: float | None) -> bool:
    """Whether process `pid` still runs and is the one that started at `started`.

    psutil only asks the OS (on Windows `os.kill(pid, 0)` would terminate the
    process); a pid now used by another program, or a zombie, is not the writer.
    """
    import psutil

    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        if started is not None and abs(proc.create_time() - started) > _START_TOLERANCE_S:
            return False
    except psutil.Error:  # gone, or another user's: not a Parley of this user
        return False
    return True


@functools.cache
def this_process() -> tuple[int, float | None]:
    """(pid, start time) of this process, for rows that must be cleaned up if it dies."""
    pid = os.getpid()
    return pid, process_started(pid)
