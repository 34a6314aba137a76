"""The access log: one JSON line per request with its request id, and never a payload."""

from __future__ import annotations

import base64
import json
import os

from mindsync.core.config import Settings
from tests.api.fakes import fake_registry
from tests.conftest import FakeClock, give_consent, make_client


def test_each_request_logs_one_json_line_with_its_id_and_no_payload(
    settings: Settings, clock: FakeClock, capsys
) -> None:
    face = base64.b64encode(b"\xff\xd8" + os.urandom(3000)).decode()
    logged = settings.model_copy(update={"log_json": True, "log_level": "INFO"})
    with make_client(logged, fake_registry(), clock) as client:
        give_consent(client, "alice")
        response = client.post("/analyze", json={"user_id": "alice", "face_image": face})
        assert response.status_code == 200, response.text
        missing = client.get(f"/session/{'b' * 32}")
        assert missing.status_code == 404
    err = capsys.readouterr().err
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    lines = [line for line in lines if line["logger"].startswith("mindsync")]  # not the client
    access = [line for line in lines if line["logger"] == "mindsync.access"]
    analyze = [line for line in access if line["message"].startswith("POST /analyze 200 ")]
    assert len(analyze) == 1
    assert analyze[0]["request_id"] == response.headers["x-request-id"]
    assert analyze[0]["message"].endswith(" ms")
    # The route's template is logged, not the path with its ids.
    assert any(line["message"].startswith("GET /session/{session_id} 404") for line in access)
    assert not any("b" * 32 in line["message"] for line in lines)
    assert not any(face[:64] in json.dumps(line) for line in lines)
