"""Erasure that is complete: no id of an erased user or of their sessions survives in the
audit log, pseudonyms are keyed, the id cannot come back, and on PostgreSQL the table files
hold no copy after the erasure."""

from __future__ import annotations

import hashlib
import hmac
import pathlib

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from tests.api.fakes import fake_registry
from tests.api.test_analyze import AUDIO, count
from tests.conftest import give_consent, make_client

KEY = "k" * 40


def _all_audit_text(db_engine) -> str:
    with db_engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT actor, target_user_id, resource FROM audit_log")
        ).all()
    return "\n".join(" ".join(str(v) for v in row) for row in rows)


def test_the_audit_log_keeps_no_session_id_of_an_erased_user(settings, clock, db_engine) -> None:
    with make_client(settings, fake_registry(), clock) as admin:
        created = admin.post(
            "/users", json={"name": "Eli", "user_id": "eli", "consent": ["voice"]}
        ).json()
        eli = {"Authorization": f"Bearer {created['token']}"}
        give_consent(admin, "eli")
        ids = [
            admin.post("/analyze", json={"audio_data": AUDIO}, headers=eli).json()["session_id"]
            for _ in range(4)
        ]
        for sid in ids[:2]:
            assert admin.get(f"/session/{sid}").status_code == 200  # the administrator reads
        assert admin.get(f"/session/{ids[2]}", headers=eli).status_code == 200
        assert admin.delete("/users/eli").status_code == 200
    text = _all_audit_text(db_engine)
    assert "eli" not in text.replace("erased:", "")
    for sid in ids:
        assert sid not in text
    assert "session/erased" in text


def test_the_audit_pseudonym_is_keyed(settings, clock, db_engine) -> None:
    keyed = settings.model_copy(update={"pseudonym_key": SecretStr(KEY)})
    with make_client(keyed, fake_registry(), clock) as admin:
        admin.post("/users", json={"name": "Flo", "user_id": "flo"})
        assert admin.delete("/users/flo").status_code == 200
    text = _all_audit_text(db_engine)
    unsalted = hashlib.sha256(b"flo").hexdigest()[:24]
    assert unsalted not in text
    expected = hmac.new(KEY.encode(), b"flo", hashlib.sha256).hexdigest()[:32]
    assert f"erased:{expected}" in text


def test_the_generated_key_is_kept_in_the_database(settings, clock, db_engine) -> None:
    with make_client(settings, fake_registry(), clock) as admin:
        admin.post("/users", json={"name": "Gus", "user_id": "gus"})
        assert admin.delete("/users/gus").status_code == 200
    with db_engine.connect() as connection:
        key = connection.execute(sa.text("SELECT value FROM server_keys")).scalar_one()
    expected = hmac.new(key.encode(), b"gus", hashlib.sha256).hexdigest()[:32]
    assert f"erased:{expected}" in _all_audit_text(db_engine)


def test_an_erased_user_does_not_come_back(settings, clock, db_engine) -> None:
    with make_client(settings, fake_registry(), clock) as admin:
        admin.post("/users", json={"name": "Hal", "user_id": "hal"})
        give_consent(admin, "hal")
        stored = admin.post("/analyze", json={"user_id": "hal", "audio_data": AUDIO})
        assert stored.status_code == 200, stored.text
        assert admin.delete("/users/hal").status_code == 200
        attempts = [
            admin.post("/users", json={"name": "Hal again", "user_id": "hal"}),
            admin.post("/preferences", json={"user_id": "hal", "store_history": True}),
            admin.post("/analyze", json={"user_id": "hal", "audio_data": AUDIO}),
        ]
        for response in attempts:
            assert response.status_code == 410, response.text
            assert response.json()["error"]["code"] == "user_erased"
        assert admin.get("/users/hal/export").status_code == 404
        # Other ids are unaffected.
        assert admin.post("/users", json={"name": "Ivy", "user_id": "ivy"}).status_code == 201
    assert count(db_engine, "sessions") == 0
    assert count(db_engine, "user_preferences") == 0
    with db_engine.connect() as connection:
        tomb = connection.execute(sa.text("SELECT pseudonym FROM erased_users")).scalars().all()
    assert len(tomb) == 1 and "hal" not in tomb[0]


def test_postgresql_table_files_hold_no_copy_after_an_erasure(settings, clock, db_engine) -> None:
    """A byte scan of every table and index file of the schema after the erasure's VACUUM FULL
    and CHECKPOINT (WAL is not scanned: see SECURITY.md)."""
    if settings.is_sqlite:
        return
    marker = "zz-pg-erasure-marker-5e1d"
    with make_client(settings, fake_registry(), clock) as admin:
        created = admin.post("/users", json={"name": marker, "user_id": marker}).json()
        token = {"Authorization": f"Bearer {created['token']}"}
        give_consent(admin, marker)
        for _ in range(5):
            sid = admin.post("/analyze", json={"audio_data": AUDIO}, headers=token).json()
            admin.get(f"/session/{sid['session_id']}")
        admin.post("/preferences", json={"user_id": marker, "retention_days": 5})
        assert admin.delete(f"/users/{marker}").status_code == 200
    with db_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text("CHECKPOINT"))  # what a crash or shutdown would write out
        data_dir = connection.execute(sa.text("SHOW data_directory")).scalar_one()
        paths = connection.execute(
            sa.text(
                "SELECT pg_relation_filepath(c.oid) FROM pg_class c "
                "WHERE c.relnamespace = current_schema()::regnamespace "
                "AND pg_relation_filepath(c.oid) IS NOT NULL"
            )
        ).scalars()
        files = [pathlib.Path(data_dir) / p for p in paths]
    readable = [f for f in files if f.exists()]
    if not readable:
        pytest.skip("the PostgreSQL server's files are not readable from here")
    copies = 0
    for base in readable:
        for segment in base.parent.glob(base.name + "*"):
            copies += segment.read_bytes().count(marker.encode())
    assert copies == 0
