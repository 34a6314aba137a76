"""Prometheus metrics at /metrics."""

from __future__ import annotations

from tests.api.fakes import fake_registry
from tests.api.test_analyze import AUDIO
from tests.conftest import give_consent, make_client


def _value(text: str, prefix: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix)
    )


def test_metrics_count_requests_and_analyses(settings, clock) -> None:
    with make_client(settings, fake_registry(), clock) as client:
        give_consent(client, "mo")
        before = client.get("/metrics").text
        client.post("/analyze", json={"user_id": "mo", "audio_data": AUDIO})
        client.get("/session/not-a-uuid")
        after = client.get("/metrics")
    assert after.headers["content-type"].startswith("text/plain")
    label = 'mindsync_http_requests_total{method="POST",route="/analyze",status="200"}'
    assert _value(after.text, label) == _value(before, label) + 1
    voice = 'mindsync_analysis_duration_seconds_count{modality="voice",status="ok"}'
    assert _value(after.text, voice) == _value(before, voice) + 1
    assert _value(after.text, "mindsync_sessions_stored_total") >= 1
    assert '"mo"' not in after.text  # labels never name a user
