"""The ``mindsync`` command line, run as a user would run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import jsonschema_rs
import pytest
import sqlalchemy as sa

from mindsync.api.app import create_app
from mindsync.cli import local_health_url
from mindsync.core.config import Settings
from tests.e2e.server import ServerProcess


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


def test_users_and_tokens_from_the_command_line(tmp_path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'users.db'}"}
    created = _run("users", "create", "Robin", "--id", "robin", env=env)
    assert created.returncode == 0, created.stderr
    first = json.loads(created.stdout.strip().splitlines()[-1])
    assert first["user_id"] == "robin" and first["token"].startswith("ms_")
    assert _run("users", "create", "Robin", "--id", "robin", env=env).returncode == 1

    rotated = _run("tokens", "rotate", "robin", env=env)
    assert rotated.returncode == 0, rotated.stderr
    second = json.loads(rotated.stdout.strip().splitlines()[-1])["token"]
    assert second != first["token"]
    assert _run("tokens", "revoke", first["token"], env=env).returncode == 1  # already revoked
    assert _run("tokens", "revoke", second, env=env).returncode == 0
    assert _run("tokens", "rotate", "nobody", env=env).returncode == 1

    engine = sa.create_engine(env["DATABASE_URL"])
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT token_hash, revoked_at FROM api_tokens")).all()
    engine.dispose()
    assert len(rows) == 2 and all(r.revoked_at is not None for r in rows)
    assert all(second not in r.token_hash for r in rows)

    # An erased id stays erased from the command line too (the API answers 410).
    from sqlalchemy.orm import Session

    from mindsync.storage.repositories import users

    engine = sa.create_engine(env["DATABASE_URL"])
    with Session(engine) as db:
        users.erase_user(db=db, user_id="robin")
        db.commit()
    engine.dispose()
    again = _run("users", "create", "Robin", "--id", "robin", env=env)
    assert again.returncode == 1 and "was erased" in again.stderr


def test_users_create_records_the_consent_given(tmp_path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'consent.db'}"}
    created = _run("users", "create", "Ada", "--id", "ada", "--consent", "face,motion", env=env)
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout.strip().splitlines()[-1])["consent"] == ["face", "motion"]
    plain = _run("users", "create", "Bo", "--id", "bo", env=env)
    assert json.loads(plain.stdout.strip().splitlines()[-1])["consent"] == []
    wrong = _run("users", "create", "Cy", "--consent", "face,camera", env=env)
    assert wrong.returncode == 2 and "unknown modality camera" in wrong.stderr
    bare = _run("users", "create", "Di", "--id", "di", "--token-only", env=env)
    assert bare.returncode == 0 and bare.stdout.startswith("ms_")
    assert bare.stdout.count("\n") == 1 and " " not in bare.stdout.strip()  # only the token

    engine = sa.create_engine(env["DATABASE_URL"])
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT user_id, face_enabled, audio_enabled, motion_enabled, face_consent_at, "
                "audio_consent_at FROM user_preferences"
            )
        ).all()
    engine.dispose()
    assert len(rows) == 1  # Bo chose nothing: no preferences, so no consent
    ada = rows[0]
    assert ada.user_id == "ada" and ada.face_enabled and ada.motion_enabled
    assert not ada.audio_enabled and ada.face_consent_at is not None
    assert ada.audio_consent_at is None


def test_analyze_files_in_process_as_table_json_and_csv(tmp_path) -> None:
    from pathlib import Path

    data = Path(__file__).parent / "data"
    (tmp_path / "smile.png").write_bytes((data / "face" / "astronaut.png").read_bytes())
    (tmp_path / "speech.wav").write_bytes((data / "voice" / "arctic_a0007.wav").read_bytes())
    rows = ["timestamp,ax,ay,az"]
    rows += [f"{i / 50:.3f},0.01,0.02,{9.81 + 0.01 * (i % 3):.3f}" for i in range(1500)]
    (tmp_path / "desk.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    (tmp_path / "notes.txt").write_text("ignored")

    table = _run("analyze", str(tmp_path), env={})
    assert table.returncode == 1, table.stderr  # the broken bundle, as for one broken file
    lines = table.stdout.strip().splitlines()
    assert lines[0].split()[:3] == ["bundle", "modalities", "emotion"]
    by_name = {line.split()[0]: line for line in lines[2:]}
    assert set(by_name) == {"broken", "desk", "smile", "speech"}
    assert "error" in by_name["broken"]
    assert "happy" in by_name["smile"]
    assert "still" in by_name["desk"]

    as_json = _run("analyze", str(tmp_path), "--json", env={})
    assert as_json.returncode == 1
    results = {r.pop("bundle"): r for r in json.loads(as_json.stdout)}
    assert results["speech"]["modalities"]["voice"]["status"] == "ok"
    assert results["smile"]["emotion_analysis"]["dominant_emotion"] == "happy"
    # The API's dialect: each object is exactly a POST /analyze response, or its error body.
    document = create_app(Settings(_env_file=None)).openapi()
    schemas = document["components"]["schemas"]
    response_schema = {
        "$ref": "#/components/schemas/AnalysisResponse",
        "components": {"schemas": schemas},
    }
    validator = jsonschema_rs.Draft202012Validator(response_schema)
    for name in ("desk", "smile", "speech"):
        assert list(validator.iter_errors(results[name])) == [], name
        assert set(results[name]) == set(schemas["AnalysisResponse"]["properties"]), name
        assert results[name]["stored"] is False and results[name]["quality_score"] is not None
    assert (
        results["smile"]["stress_confidence"]
        == results["smile"]["assessment"]["stress"]["confidence"]
    )
    error = results["broken"]["error"]
    assert set(error) == {"code", "message", "field", "request_id"}
    assert error["field"] == "face_image"

    single = _run("analyze", "--face", str(tmp_path / "smile.png"), "--json", env={})
    assert single.returncode == 0, single.stderr
    assert json.loads(single.stdout)[0]["modalities_used"] == ["face"]

    as_csv = _run("analyze", "--motion", str(tmp_path / "desk.csv"), "--csv", env={})
    header, row = as_csv.stdout.strip().splitlines()
    assert header.startswith("bundle,modalities,emotion,stress_level")
    assert row.startswith("input,motion,")


def test_a_headerless_motion_csv_is_named_as_such(tmp_path) -> None:
    rows = [f"{i / 50:.3f},0.01,0.02,9.81" for i in range(200)]
    (tmp_path / "raw.csv").write_text("\n".join(rows) + "\n")
    result = _run("analyze", "--motion", str(tmp_path / "raw.csv"), "--json", env={})
    assert result.returncode == 1
    message = json.loads(result.stdout)[0]["error"]["message"]
    assert "header row" in message and "timestamp,ax,ay,az" in message
    assert "missing t" not in message

    (tmp_path / "odd.csv").write_text("when,ax,ay,az\n0,0,0,9.8\n")
    odd = _run("analyze", "--motion", str(tmp_path / "odd.csv"), "--json", env={})
    message = json.loads(odd.stdout)[0]["error"]["message"]
    assert "no column for timestamp (or time, t)" in message and "when" in message


def test_analyze_help_explains_the_csv_columns_and_exit_codes() -> None:
    from mindsync.batch import COLUMNS

    text = _run("analyze", "--help", env={}).stdout
    for aliases in COLUMNS.values():
        for alias in aliases:
            if not alias.endswith(("_y", "_z")):
                assert alias in text, alias
    assert "exit status: 0" in text and "POST /analyze" in text


def test_analyze_without_inputs_is_a_usage_error() -> None:
    result = _run("analyze", env={})
    assert result.returncode == 2
    assert "--face" in result.stderr


@pytest.mark.parametrize(
    ("bind", "url"),
    [
        (None, "http://127.0.0.1:8000/health"),
        ("0.0.0.0:8000", "http://127.0.0.1:8000/health"),
        ("127.0.0.1:8765", "http://127.0.0.1:8765/health"),
        ("[::]:9000", "http://[::1]:9000/health"),
        ("[::1]:9001", "http://[::1]:9001/health"),
        ("localhost:8001", "http://localhost:8001/health"),
    ],
)
def test_health_checks_the_address_the_server_binds(bind, url) -> None:
    settings = Settings(_env_file=None, host="127.0.0.1", port=8000)
    assert local_health_url(bind, settings) == url


def test_health_answers_0_for_a_running_server_and_1_for_none(tmp_path) -> None:
    env = {"MINDSYNC_ADMIN_TOKEN": "h" * 40, "MINDSYNC_ANALYSIS_PROCESSES": "1"}
    server = ServerProcess(
        database_url=f"sqlite:///{tmp_path / 'h.db'}", env=env, log=tmp_path / "server.log"
    )
    server.start()
    try:
        bind = {"MINDSYNC_BIND": f"127.0.0.1:{server.port}"}
        ok = _run("health", env={"DATABASE_URL": server.database_url, **bind})
        assert ok.returncode == 0, ok.stderr
    finally:
        server.stop()
    down = _run("health", "--url", server.url + "/health", env={})
    assert down.returncode == 1
    assert "did not answer" in down.stderr


def test_a_server_started_while_the_database_is_down_says_so_in_one_line(tmp_path) -> None:
    env = {
        "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
        "MINDSYNC_DB_START_TIMEOUT_SECONDS": "2",
    }
    for command in (("serve", "--port", "1"), ("migrate",)):
        result = _run(*command, env=env)
        assert result.returncode == 3, result.stderr
        assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
        errors = [line for line in result.stderr.splitlines() if line.startswith("mindsync:")]
        assert errors == [errors[0]] and "did not answer within 2 s" in errors[0]
        assert len(result.stderr.splitlines()) <= 3  # the waiting line, the error line
