"""The ``mindsync`` command line, run as a user would run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import sqlalchemy as sa


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mindsync", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
        check=False,
    )


def test_migrate_then_cleanup_on_a_fresh_sqlite_file(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'nested' / 'cli.db'}"
    migrated = _run("migrate", env={"DATABASE_URL": url})
    assert migrated.returncode == 0, migrated.stderr
    assert "migrated to revision" in migrated.stdout
    engine = sa.create_engine(url)
    assert "sessions" in sa.inspect(engine).get_table_names()
    engine.dispose()
    cleaned = _run("cleanup", env={"DATABASE_URL": url})
    assert cleaned.returncode == 0, cleaned.stderr
    assert json.loads(cleaned.stdout.strip().splitlines()[-1]) == {
        "deleted": {"sessions": 0, "analysis_metrics": 0, "request_metrics": 0}
    }


def test_invalid_settings_stop_the_command_naming_the_variable(tmp_path) -> None:
    result = _run("migrate", env={"MINDSYNC_PORT": "not-a-port"})
    assert result.returncode == 2
    assert "MINDSYNC_PORT" in result.stderr


def test_help_lists_the_commands() -> None:
    result = _run("--help", env={})
    assert result.returncode == 0
    for command in ("serve", "migrate", "cleanup"):
        assert command in result.stdout
