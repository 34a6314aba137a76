"""Limits before work, rate limits, CORS and security headers."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from mindsync.api.middleware import RequestContextMiddleware, json_depth
from tests.api.fakes import fake_registry
from tests.api.test_analyze import AUDIO, count
from tests.conftest import give_consent, make_client


@pytest.fixture
def client(settings, clock):
    with make_client(settings, fake_registry(), clock) as c:
        give_consent(c, "deep", "keep")
        yield c


def test_security_headers_on_every_response(client) -> None:
    for response in (client.get("/"), client.get("/session/not-a-uuid"), client.get("/nowhere")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["content-security-policy"].startswith("default-src 'none'")
        assert response.headers["x-request-id"]
    assert "content-security-policy" not in client.get("/docs").headers


def test_a_10000_deep_json_array_is_refused_naming_the_limit(client, db_engine) -> None:
    body = b'{"audio_data": "QUJD", "user_id": "deep", "x": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    response = client.post("/analyze", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "json_too_deep"
    assert "32" in error["message"] and error["field"] == "body"
    assert error["request_id"] == response.headers["x-request-id"]
    assert count(db_engine, "sessions") == 0


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        (b"{}", 1),
        (b'{"a": [1, {"b": [2]}]}', 4),
        (b'{"s": "[[[[[[ {{{ ]]"}', 1),
        (b'{"s": "quote \\" [[[[ inside"}', 1),
        (b'[[["\\\\"], [1]]]', 3),
        (b"[" * 50 + b"]" * 50, 50),
    ],
)
def test_json_depth_ignores_brackets_inside_strings(text, depth) -> None:
    assert json_depth(text) == depth


def test_a_lying_content_length_does_not_get_past_the_body_limit() -> None:
    """The limit counts the bytes that arrive, not the bytes the header promises."""
    seen: list[bytes] = []

    async def app(scope, receive, send):
        while True:
            message = await receive()
            seen.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    middleware = RequestContextMiddleware(app, max_body_bytes=1000)
    chunks = [b"x" * 600, b"x" * 600, b"x" * 600]
    sent: list[dict] = []

    async def receive():
        chunk = chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/analyze",
        "headers": [(b"content-length", b"10"), (b"content-type", b"application/octet-stream")],
    }
    asyncio.run(middleware(scope, receive, send))
    assert sent[0]["status"] == 413
    assert b"1000" in sent[1]["body"]
    assert sum(len(b) for b in seen) <= 1200  # it stopped at the first chunk past the limit


def test_rate_limit_answers_429_with_retry_after(settings, clock) -> None:
    limited = settings.model_copy(update={"rate_limit_per_minute": 5})
    with make_client(limited, fake_registry(), clock) as c:
        codes = [c.get("/").status_code for _ in range(7)]
        assert codes[:5] == [200] * 5
        assert codes[5:] == [429, 429]
        response = c.get("/")
        assert 1 <= int(response.headers["retry-after"]) <= 60
        assert response.json()["error"]["code"] == "rate_limited"
        assert c.get("/health").status_code == 200  # probes are exempt
        other = c.get("/", headers={"Authorization": "Bearer ms_someone-else"})
        assert other.status_code != 429  # limits are per token


def test_rate_limits_are_shared_through_redis(settings, clock) -> None:
    import redis

    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_connect_timeout=1).ping()
    except Exception as exc:
        pytest.skip(f"no Redis server answers at 127.0.0.1:6379 ({type(exc).__name__})")
    shared = settings.model_copy(
        update={"rate_limit_per_minute": 4, "redis_url": "redis://127.0.0.1:6379/0"}
    )
    # A fresh user: a fresh key, whatever else uses this Redis (the limit keys on the verified
    # identity; the administrator's own key is shared by every run in this minute).
    with make_client(settings, fake_registry(), clock) as unlimited:
        created = unlimited.post("/users", json={"name": f"r{uuid.uuid4().hex[:8]}"})
    headers = {"Authorization": f"Bearer {created.json()['token']}"}
    with (
        make_client(shared, fake_registry(), clock) as one,
        make_client(shared, fake_registry(), clock) as two,
    ):
        codes = [one.get("/", headers=headers).status_code for _ in range(2)]
        codes += [two.get("/", headers=headers).status_code for _ in range(3)]
    assert codes == [200, 200, 200, 200, 429]


def test_cors_allows_only_the_configured_origins(settings, clock) -> None:
    allowed = settings.model_copy(update={"cors_origins": ["https://app.example"]})
    with make_client(allowed, fake_registry(), clock) as c:
        ok = c.options(
            "/analyze",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == "https://app.example"
        evil = c.get("/", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in evil.headers


def test_bad_inputs_leave_nothing_stored(client, db_engine) -> None:
    client.post("/analyze", json={"user_id": "keep", "audio_data": AUDIO})
    before = {t: count(db_engine, t) for t in ("sessions", "analysis_metrics")}
    bad = [
        {"user_id": "keep", "audio_data": "@@@@"},
        {"user_id": "keep", "face_image": ""},
        {"user_id": "keep", "motion_data": "not samples"},
    ]
    for payload in bad:
        assert client.post("/analyze", json=payload).status_code in (413, 415, 422)
    wrong_type = client.post(
        "/analyze", content=json.dumps(bad[0]), headers={"content-type": "text/plain"}
    )
    assert wrong_type.status_code in (415, 422)
    assert {t: count(db_engine, t) for t in before} == before
