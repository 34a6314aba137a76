"""Only derived results are stored: a scan of every table after a batch of analyses."""

from __future__ import annotations

import base64
import os

from tests.api.fakes import fake_registry
from tests.api.test_analyze import MOTION
from tests.conftest import make_client
from tests.payload_scan import find_raw_payloads


def test_no_table_holds_a_raw_payload_after_a_batch(settings, clock, db_engine) -> None:
    with make_client(settings, fake_registry(), clock) as client:
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
