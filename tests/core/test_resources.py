"""CPU and memory of processes, read from /proc."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mindsync.core.resources import process_usage

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs Linux /proc")


def test_a_busy_child_shows_its_cpu_time_and_memory() -> None:
    code = "import time\nx = bytearray(64 * 1024 * 1024)\nend = time.process_time() + 0.5\n"
    code += "while time.process_time() < end: pass\nprint('done', flush=True)\ntime.sleep(30)"
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "done"
        usage = process_usage(child.pid)
        assert usage is not None and usage.pid == child.pid
        assert usage.cpu_seconds >= 0.4
        assert usage.rss_bytes is not None and usage.rss_bytes > 64 * 1024 * 1024
        assert usage.cpu_percent is not None and usage.cpu_percent > 0
    finally:
        child.kill()
        child.wait()
        child.stdout.close()  # type: ignore[union-attr]
    time.sleep(0.05)
    assert process_usage(child.pid) is None  # gone


def test_this_process_is_the_default() -> None:
    usage = process_usage()
    assert usage is not None and usage.pid == os.getpid() and usage.rss_bytes
