"""``/``, ``/health``, ``/stats`` and the rendered documentation."""

from __future__ import annotations

import pytest

from mindsync import __version__
from mindsync.core.config import Settings
from tests.api.fakes import fake_registry
from tests.api.test_analyze import AUDIO, FACE
from tests.conftest import give_consent, make_client


@pytest.fixture
def client(settings, clock):
    with make_client(settings, fake_registry(), clock) as c:
        give_consent(c, "sam")
        yield c


def test_root_names_the_service_and_links_the_docs(client) -> None:
    body = client.get("/").json()
    assert body["name"] == "MindSync"
    assert body["version"] == __version__
    assert body["docs"] == "/docs" and body["redoc"] == "/redoc"


def test_docs_and_redoc_render_with_examples(client) -> None:
    docs, redoc = client.get("/docs").text, client.get("/redoc").text
    assert "swagger-ui" in docs and "redoc" in redoc.lower()
    # Offline: every script and style comes from this server, none from a CDN.
    for page in (docs, redoc):
        assert "cdn.jsdelivr" not in page and "fonts.googleapis" not in page
    assert client.get("/docs/assets/swagger-ui-bundle.js").status_code == 200
    assert client.get("/docs/assets/redoc.standalone.js").status_code == 200
    schema = client.get("/openapi.json").json()
    for path in ("/analyze", "/sessions", "/session/{session_id}", "/health", "/stats", "/"):
        assert path in schema["paths"]
    assert "/preferences" in schema["paths"] and "/preferences/{user_id}" in schema["paths"]
    analyze = schema["paths"]["/analyze"]["post"]
    for code in ("413", "415", "422", "501"):
        assert code in analyze["responses"]
    request_schema = schema["components"]["schemas"]["AnalysisRequest"]
    assert request_schema["examples"][0]["motion_data"]["acceleration"]["z"][0] == 9.81


def test_health_reports_database_migrations_and_analysers(client) -> None:
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert body["database"]["reachable"] is True
    assert body["database"]["migrations_current"] is True
    assert set(body["analyzers"]) == {"face", "voice", "motion"}
    assert all(a["loaded"] for a in body["analyzers"].values())
    assert body["uptime_seconds"] >= 0


def test_health_is_degraded_when_an_analyser_is_missing(settings, clock) -> None:
    with make_client(settings, fake_registry("motion"), clock) as c:
        body = c.get("/health").json()
    assert body["status"] == "degraded"
    assert body["analyzers"]["face"] == {
        "loaded": False,
        "reason": "the face analyser is not implemented yet",
    }


def test_health_is_503_when_the_database_is_unreachable(clock) -> None:
    settings = Settings(
        database_url="postgresql+psycopg://nobody@127.0.0.1:1/none", auto_migrate=False
    )
    with make_client(settings, fake_registry(), clock) as c:
        response = c.get("/health")
        listing = c.get("/sessions")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["database"]["reachable"] is False
    assert listing.status_code == 503
    assert listing.json()["error"]["code"] == "database_unavailable"


def test_stats_count_requests_errors_latency_and_sessions(client, clock) -> None:
    for _ in range(3):
        response = client.post(
            "/analyze", json={"user_id": "sam", "face_image": FACE, "audio_data": AUDIO}
        )
        assert response.status_code == 200
    assert client.post("/analyze", json={}).status_code == 422
    assert client.get("/session/00000000-0000-0000-0000-000000000000").status_code == 404
    client.get("/health")  # probes are not counted
    stats = client.get("/stats").json()
    assert stats["requests_total"] == 6  # with the fixture's consent
    assert stats["requests_by_route"]["POST /preferences"] == 1
    assert stats["client_errors"] == 2
    assert stats["server_errors"] == 0
    assert stats["requests_by_route"]["POST /analyze"] == 4
    assert stats["requests_by_route"]["GET /session/{session_id}"] == 1
    assert stats["sessions_stored"] == 3
    (server,) = stats["processes"]  # analysis in threads: one process
    assert server["role"] == "server" and server["pid"] > 0
    assert server["cpu_seconds"] > 0 and server["rss_bytes"] > 10_000_000
    face = stats["modality_latency"]["face"]
    assert face["count"] == 3
    assert 0 <= face["p50_ms"] <= face["p95_ms"]
    assert face["mean_quality"] == pytest.approx(0.9)

    clock.advance(hours=2)
    recent = client.get("/stats", params={"window_hours": 1}).json()
    assert recent["requests_total"] == 0
    assert recent["modality_latency"] == {}
