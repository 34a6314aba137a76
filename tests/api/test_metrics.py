"""Prometheus metrics at /metrics."""

from __future__ import annotations

from tests.api.fakes import fake_registry
from tests.api.test_analyze import AUDIO
from tests.conftest import make_client


def _value(text: str, prefix: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix)
    )


def test_metrics_count_requests_and_analyses(settings, clock) -> None:
    with make_client(settings, fake_registry(), clock) as client:
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


def test_a_database_outage_is_logged_once_by_the_metrics_flusher(settings, clock) -> None:
    import logging
    import time

    from sqlalchemy.exc import OperationalError

    from tests.api.fakes import fake_registry
    from tests.conftest import make_client

    def broken() -> None:
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("down"))

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    app_logger = logging.getLogger("mindsync.api.app")
    with make_client(settings, fake_registry(), clock) as c:
        app_logger.addHandler(handler)  # the lifespan configured logging: listen after it
        try:
            real = c.app.state.session_factory
            c.app.state.session_factory = broken
            for _ in range(4):
                c.get("/me")
                time.sleep(0.8)
            c.app.state.session_factory = real
            time.sleep(1.5)
        finally:
            app_logger.removeHandler(handler)
        stats = c.get("/stats").json()
    lines = [r for r in records if "metrics" in r.getMessage()]
    assert [r.levelname for r in lines] == ["WARNING", "INFO"], [r.message for r in lines]
    assert all(r.exc_info is None for r in lines)
    assert stats["requests_by_route"].get("GET /me", 0) >= 4  # kept through the outage
