"""CPU time and resident memory of a process, read from ``/proc`` (no dependency).

Linux only, where MindSync is deployed; elsewhere only the calling process is measured
(CPU time from :func:`os.times`) and memory is unknown.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class ProcessUsage:
    """What one process has used so far."""

    pid: int
    cpu_seconds: float
    cpu_percent: float | None
    rss_bytes: int | None
    uptime_seconds: float | None


def _ticks() -> int:
    try:
        return int(os.sysconf("SC_CLK_TCK"))
    except (AttributeError, ValueError, OSError):
        return 100


def _proc_usage(pid: int, proc: Path) -> ProcessUsage | None:
    try:
        stat = (proc / str(pid) / "stat").read_text()
        status = (proc / str(pid) / "status").read_text()
        system_uptime = float((proc / "uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    # Fields after the command name, which is in parentheses and may hold spaces.
    fields = stat.rsplit(")", 1)[1].split()
    ticks = _ticks()
    cpu = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
    started = int(fields[19]) / ticks
    alive = max(system_uptime - started, 1e-6)
    rss = None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) * 1024
            break
    return ProcessUsage(
        pid=pid,
        cpu_seconds=round(cpu, 3),
        cpu_percent=round(100.0 * cpu / alive, 2),
        rss_bytes=rss,
        uptime_seconds=round(alive, 3),
    )


def process_usage(pid: int | None = None, *, proc: Path = PROC) -> ProcessUsage | None:
    """CPU seconds, mean CPU percent of one core over the process's life, and resident
    memory of ``pid`` (default: this process); ``None`` when the process is gone or cannot
    be read."""
    pid = os.getpid() if pid is None else pid
    if proc.is_dir():
        return _proc_usage(pid, proc)
    if pid != os.getpid():
        return None
    times = os.times()
    return ProcessUsage(
        pid=pid,
        cpu_seconds=round(times.user + times.system, 3),
        cpu_percent=None,
        rss_bytes=None,
        uptime_seconds=None,
    )
