"""Personal baselines through the API: calibration, then comparison; erased with the user."""

from __future__ import annotations

import base64

from tests.api.fakes import fake_registry
from tests.api.test_analyze import FACE, count
from tests.conftest import give_consent, make_client


def test_calibration_then_personal_comparison(settings, clock, db_engine) -> None:
    with make_client(settings, fake_registry(), clock) as client:
        give_consent(client, "wes")
        for i in range(settings.baseline_min_sessions):
            audio = base64.b64encode(f"calm clip {i}".encode()).decode()
            body = client.post(
                "/analyze", json={"user_id": "wes", "face_image": FACE, "audio_data": audio}
            ).json()
            assert body["baseline"]["status"] == "calibrating"
            assert body["baseline"]["message"] == f"calibrating: {i} of 5 sessions"
        body = client.post(
            "/analyze", json={"user_id": "wes", "face_image": FACE, "audio_data": audio}
        ).json()
        assert body["baseline"]["status"] == "personal"
        assert body["baseline"]["sessions"] == 5
        assert body["baseline"]["stress"]["description"] in (
            "lower than usual",
            "as usual",
            "higher than usual",
        )
        assert body["assessment"]["stress"]["modalities"] == ["face", "voice"]
        stored = client.get(f"/session/{body['session_id']}").json()
        assert stored["baseline"] == body["baseline"]
        assert stored["recommendation_details"] == body["recommendation_details"]
        assert stored["recommendations"] == [r["text"] for r in body["recommendation_details"]]

        # History off: compared, but the baseline does not learn from it.
        client.post("/preferences", json={"user_id": "wes", "store_history": False})
        client.post("/analyze", json={"user_id": "wes", "face_image": FACE})
        client.post("/preferences", json={"user_id": "wes", "store_history": True})
        again = client.post("/analyze", json={"user_id": "wes", "face_image": FACE}).json()
        assert again["baseline"]["sessions"] == 6

        assert client.delete("/users/wes").json()["deleted"]["baselines"] > 0
        # The erased id does not come back, not even with a fresh baseline.
        gone = client.post("/analyze", json={"user_id": "wes", "face_image": FACE})
        assert gone.status_code == 410
        assert count(db_engine, "user_baselines") == 0
