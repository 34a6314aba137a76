"""The README's "first analysis in three commands", run as it stands against a real server.

The block is read from README.md and run by bash, unchanged but for the server's address in
its first line. Around it, the test provides what a reader has: a terminal in the
repository's folder (a temporary folder holding ``.venv`` and ``tests`` as links), the
database the server uses (``DATABASE_URL``, which the README names), and the Python client,
which the README installs once with ``pip install ./clients/python`` and the test takes from
the source tree (``PYTHONPATH``) instead of installing it into the test environment.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.server import ServerProcess

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
HEADING = "## A first analysis in three commands"
README_URL = "http://127.0.0.1:8000"


def first_analysis_block(readme: str) -> str:
    """The first ``sh`` code block after the heading of the first analysis."""
    section = readme[readme.index(HEADING) :]
    match = re.search(r"^```sh\n(.*?)^```$", section, re.MULTILINE | re.DOTALL)
    assert match is not None, f"no sh block under {HEADING!r}"
    return match.group(1)


def test_the_block_creates_a_user_then_analyses_with_curl_and_the_client() -> None:
    block = first_analysis_block(README.read_text())
    assert block.splitlines()[0] == f"export MINDSYNC_URL={README_URL}"
    assert block.count(README_URL) == 1  # the only thing the test changes
    # Create a user with consent, analyse with curl, the same with the Python client.
    steps = [block.index(s) for s in ("users create", "curl", "from mindsync_client")]
    assert steps == sorted(steps) and "--consent face,voice,motion" in block


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("readme")
    process = ServerProcess(
        database_url=f"sqlite:///{folder / 'readme.db'}",
        env={"MINDSYNC_ANALYSIS_PROCESSES": "1"},
        log=folder / "server.log",
    )
    process.start()
    yield process
    process.stop()


def test_the_readmes_first_analysis_runs_as_written(server, tmp_path) -> None:
    for tool in ("bash", "curl", "base64", "tr"):
        if shutil.which(tool) is None:
            pytest.skip(f"the README's commands need {tool}, which is not installed here")
    venv = Path(sys.prefix)
    if not (venv / "bin" / "mindsync").exists():
        pytest.skip(f"{venv} has no bin/mindsync: run the tests from the project's .venv")
    # The reader's terminal: the repository's folder, as far as the commands can tell.
    workdir = tmp_path / "repository"
    workdir.mkdir()
    (workdir / ".venv").symlink_to(venv)
    (workdir / "tests").symlink_to(ROOT / "tests")

    block = first_analysis_block(README.read_text()).replace(README_URL, server.url)
    env = {
        **os.environ,
        "DATABASE_URL": server.database_url,
        "PYTHONPATH": str(ROOT / "clients" / "python" / "src"),
    }
    env.pop("TOKEN", None)
    env.pop("MINDSYNC_URL", None)
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    curl_line, client_line = done.stdout.strip().splitlines()
    assert '"dominant_emotion":"happy"' in curl_line  # a smiling face, analysed
    assert '"stored":true' in curl_line and '"modalities_used":["face"]' in curl_line
    emotion, overall, confidence = client_line.split()
    assert emotion == "happy"
    assert 0.5 < float(overall) <= 1 and 0 < float(confidence) <= 1
