"""Privacy rights: export everything held about a user, erase all of it, audit who did what."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from mindsync.storage.repositories.users import audit_pseudonym
from tests.api.fakes import fake_registry
from tests.api.test_analyze import AUDIO, FACE, MOTION, count
from tests.conftest import CONSENT_ALL, make_client
from tests.payload_scan import find_raw_payloads


def test_export_holds_everything_and_erasure_deletes_it(settings, clock, db_engine) -> None:
    with make_client(settings, fake_registry(), clock) as admin:
        created = admin.post(
            "/users", json={"name": "Pat", "user_id": "pat", "consent": CONSENT_ALL}
        ).json()
        pat = {"Authorization": f"Bearer {created['token']}"}
        admin.post("/users", json={"name": "Quinn", "user_id": "quinn", "consent": CONSENT_ALL})
        admin.post("/preferences", json={"user_id": "pat", "audio_enabled": False}, headers=pat)
        for _ in range(3):
            r = admin.post(
                "/analyze", json={"face_image": FACE, "motion_data": MOTION}, headers=pat
            )
            assert r.status_code == 200
        admin.post("/analyze", json={"user_id": "quinn", "audio_data": AUDIO})
        admin.get("/sessions", headers=pat)

        export = admin.get("/users/pat/export", headers=pat)
        assert export.status_code == 200
        body = export.json()
        assert body["user"]["name"] == "Pat"
        assert body["preferences"]["audio_enabled"] is False
        assert body["preferences"]["audio_consent_at"] is not None
        assert len(body["sessions"]) == 3
        assert len(body["metrics"]) == 6
        # The displayed id is random, not a piece of the secret.
        assert body["tokens"][0]["prefix"].startswith("tok_")
        assert body["baselines"]["stress_level"]["n"] == 3
        assert set(body["baselines"]) == {
            "stress_level",
            "attention_score",
            "overall_score",
            "face.valence",
            "face.arousal",
            "motion.restlessness",
        }
        assert created["token"] not in export.text
        actions = [e["action"] for e in body["audit"]]
        assert {"create", "update", "read", "export"} <= set(actions)
        assert all(e["actor"] in ("admin", "user:pat") for e in body["audit"])

        erased = admin.delete("/users/pat", headers=pat)
        assert erased.status_code == 200
        assert erased.json() == {
            "user_id": "pat",
            "deleted": {
                "sessions": 3,
                "analysis_metrics": 6,
                "preferences": 1,
                "baselines": 6,
                "api_tokens": 1,
                "user": 1,
            },
        }
        # The token died with the account; the user is gone for the administrator too.
        assert admin.get("/sessions", headers=pat).status_code == 401
        assert admin.get("/users/pat/export").status_code == 404
        assert admin.delete("/users/pat").status_code == 404
        # Quinn is untouched.
        assert admin.get("/sessions", params={"user_id": "quinn"}).json()["total"] == 1

    with db_engine.connect() as connection:
        left = connection.execute(
            sa.text("SELECT count(*) FROM sessions WHERE user_id = 'pat'")
        ).scalar_one()
        audit = connection.execute(
            sa.text("SELECT action, target_user_id, actor FROM audit_log ORDER BY id")
        ).all()
    assert left == 0
    with Session(db_engine) as db:
        alias = audit_pseudonym(db=db, user_id="pat")
    pats = [row for row in audit if row.target_user_id == alias]
    assert pats[-1].action == "erase"
    assert {"create", "update", "read", "export", "erase"} <= {row.action for row in pats}
    assert all("pat" not in (row.target_user_id, row.actor.removeprefix("user:")) for row in audit)
    assert count(db_engine, "sessions") == 1
    assert find_raw_payloads(db_engine) == []


def test_erased_rows_do_not_linger_in_the_sqlite_files(settings, clock, db_engine) -> None:
    if not settings.is_sqlite:
        return
    marker = "zz-erasure-marker-7f3a9c"
    with make_client(settings, fake_registry(), clock) as admin:
        admin.post("/users", json={"name": marker, "user_id": marker, "consent": CONSENT_ALL})
        admin.post("/analyze", json={"user_id": marker, "audio_data": AUDIO})
        assert admin.delete(f"/users/{marker}").status_code == 200
    path = db_engine.url.database
    import pathlib

    blobs = b"".join(
        p.read_bytes() for p in pathlib.Path(path).parent.glob(pathlib.Path(path).name + "*")
    )
    assert marker.encode() not in blobs
