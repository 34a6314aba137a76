"""Only derived results are stored (a scan of every table after a batch of analyses), and
nothing comes back after an erasure."""

from __future__ import annotations

import base64
import os
import threading

import sqlalchemy as sa

from tests.api.fakes import FakeFace, fake_registry
from tests.api.test_analyze import MOTION
from tests.conftest import CONSENT_ALL, give_consent, make_client
from tests.payload_scan import find_raw_payloads


def test_no_table_holds_a_raw_payload_after_a_batch(settings, clock, db_engine) -> None:
    with make_client(settings, fake_registry(), clock) as client:
        give_consent(client, "user-0", "user-1", "user-2")
        for i in range(10):
            face = base64.b64encode(os.urandom(3000)).decode()
            audio = base64.b64encode(os.urandom(3000)).decode()
            response = client.post(
                "/analyze",
                json={
                    "user_id": f"user-{i % 3}",
                    "face_image": face,
                    "audio_data": audio,
                    "motion_data": MOTION,
                },
            )
            assert response.status_code == 200
        client.post("/analyze", json={"face_image": "!" * 500})  # a rejected one too
    assert find_raw_payloads(db_engine) == []


def test_the_scan_itself_finds_a_planted_payload(db_engine) -> None:
    import sqlalchemy as sa

    planted = base64.b64encode(os.urandom(111)).decode()  # 148 characters: fits VARCHAR(200)
    with db_engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO request_metrics (created_at, method, route, status_code, duration_ms)"
                " VALUES (CURRENT_TIMESTAMP, 'POST', :route, 200, 1.0)"
            ),
            {"route": planted},
        )
    assert find_raw_payloads(db_engine) == ["request_metrics.route: base64-like run"]


class _HeldFace(FakeFace):
    """A face analyser that waits until the test lets it finish."""

    def __init__(self) -> None:
        super().__init__()
        self.started = threading.Event()
        self.release = threading.Event()

    def analyze(self, data: bytes):  # type: ignore[no-untyped-def]
        self.started.set()
        assert self.release.wait(30)
        return super().analyze(data)


def test_an_analysis_finishing_after_its_user_was_erased_stores_nothing(
    settings, clock, db_engine
) -> None:
    registry = fake_registry()
    held = _HeldFace()
    registry.analyzers["face"] = held
    with make_client(settings, registry, clock) as admin:
        user = admin.post("/users", json={"name": "leaving", "consent": CONSENT_ALL}).json()
        answer: dict[str, object] = {}

        def analyse() -> None:
            response = admin.post(
                "/analyze",
                json={"face_image": base64.b64encode(b"\xff\xd8 a face").decode()},
                headers={"Authorization": f"Bearer {user['token']}"},
            )
            answer["status"], answer["body"] = response.status_code, response.json()

        worker = threading.Thread(target=analyse)
        worker.start()
        assert held.started.wait(30)
        erased = admin.delete(f"/users/{user['user_id']}")
        assert erased.status_code == 200, erased.text
        held.release.set()
        worker.join(30)
    assert answer["status"] == 410, answer  # the tombstone answers before the account check
    assert "erased" in answer["body"]["error"]["message"]  # type: ignore[index]
    with db_engine.connect() as connection:
        for table in ("sessions", "analysis_metrics", "user_baselines"):
            rows = connection.execute(
                sa.text(f"SELECT count(*) FROM {table} WHERE user_id = :u"),
                {"u": user["user_id"]},
            ).scalar_one()
            assert rows == 0, table
