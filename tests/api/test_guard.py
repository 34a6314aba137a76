"""The guard: authentication before the body is read, failure budgets, identity rate limits,
trusted proxies, per-route body caps, token expiry and revocation across workers."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from mindsync.api.app import create_app
from mindsync.api.guard import client_address, parse_networks
from tests.api.fakes import fake_registry
from tests.api.test_analyze import AUDIO
from tests.conftest import ADMIN_TOKEN, make_client, within_one_budget_minute


@pytest.fixture
def admin(settings, clock):
    with make_client(settings, fake_registry(), clock) as c:
        yield c


def _new_user(admin, name: str = "Ada") -> tuple[str, dict[str, str]]:
    body = admin.post("/users", json={"name": name}).json()
    return body["user_id"], {"Authorization": f"Bearer {body['token']}"}


def _call(app: Any, path: str, headers: list[tuple[bytes, bytes]]) -> tuple[list[Any], int]:
    """Drive the ASGI app with a 22 MB body it may read; return what it sent and how many
    body chunks it read."""
    reads = 0
    chunk = b"x" * (1024 * 1024)

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": chunk, "more_body": reads < 22}

    sent: list[Any] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(22 * len(chunk)).encode()),
            *headers,
        ],
        "client": ("203.0.113.9", 5000),
        "server": ("testserver", 80),
        "scheme": "http",
        "http_version": "1.1",
        "root_path": "",
        "state": {},
    }
    asyncio.run(app(scope, receive, send))
    return sent, reads


def test_made_up_tokens_are_refused_before_a_byte_of_the_body_is_read(admin) -> None:
    app = admin.app
    for headers in (
        [],
        [(b"authorization", b"Bearer ms_made-up-token")],
        [(b"authorization", b"Basic abc")],
    ):
        sent, reads = _call(app, "/analyze", headers)
        assert sent[0]["status"] == 401
        assert (b"connection", b"close") in sent[0]["headers"]
        assert reads == 0


def test_a_valid_token_with_a_body_over_the_route_cap_is_413_naming_the_limit(admin) -> None:
    _, user = _new_user(admin)
    response = admin.post(
        "/preferences",
        content=b'{"user_id": "' + b"a" * 70_000 + b'"}',
        headers={**user, "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert "65536" in response.json()["error"]["message"]
    sent, reads = _call(
        admin.app, "/analyze", [(b"authorization", f"Bearer {ADMIN_TOKEN}".encode())]
    )
    assert sent[0]["status"] != 413 or reads == 0  # 22 MB is under the /analyze cap


def test_sessions_without_a_token_is_401_before_validation(admin) -> None:
    response = admin.get("/sessions", params={"limit": "many"}, headers={"Authorization": ""})
    assert response.status_code == 401
    assert response.json()["error"]["field"] == "Authorization"


def test_failed_authentications_are_budgeted_per_address(settings, clock) -> None:
    budget = settings.model_copy(update={"auth_failures_per_minute": 20})
    with make_client(budget, fake_registry(), clock) as c:
        _, neighbour = _new_user(c)
        assert c.get("/me", headers=neighbour).status_code == 200
        within_one_budget_minute()
        codes = [
            c.get("/sessions", headers={"Authorization": f"Bearer ms_guess-{i}"}).status_code
            for i in range(30)
        ]
        assert codes[:20] == [401] * 20
        assert set(codes[20:]) == {429}
        refused = c.get("/sessions", headers={"Authorization": "Bearer ms_guess-x"})
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.json()["error"]["code"] == "too_many_auth_failures"
        # Probes and the token-less public pages still answer.
        assert c.get("/health", headers={"Authorization": ""}).status_code == 200
        # A user behind the same address whose token this process knows is not locked out.
        assert c.get("/me", headers=neighbour).status_code == 200


def test_rate_limits_key_on_the_verified_identity(settings, clock) -> None:
    limited = settings.model_copy(update={"rate_limit_per_minute": 5})
    with make_client(limited, fake_registry(), clock) as c:
        _, user = _new_user(c)  # the administrator's first request
        codes = [c.get("/me", headers=user).status_code for _ in range(7)]
        assert codes == [200] * 5 + [429, 429]
        # Random tokens are not fresh identities: they never reach the limiter's keys.
        assert c.get("/me", headers={"Authorization": "Bearer ms_random"}).status_code == 401


def test_x_forwarded_for_is_believed_only_from_trusted_proxies() -> None:
    scope = {
        "client": ("10.0.0.5", 1234),
        "headers": [(b"x-forwarded-for", b"198.51.100.7, 10.0.0.9")],
    }
    assert client_address(scope, ()) == "10.0.0.5"
    assert client_address(scope, parse_networks(["10.0.0.0/8"])) == "198.51.100.7"
    assert client_address(scope, parse_networks(["192.168.0.1"])) == "10.0.0.5"
    spoofed = {"client": ("127.0.0.1", 1), "headers": [(b"x-forwarded-for", b"1.2.3.4")]}
    assert client_address(spoofed, ()) == "127.0.0.1"


def test_tokens_expire(settings, clock) -> None:
    short = settings.model_copy(update={"token_ttl_days": 30})
    with make_client(short, fake_registry(), clock) as c:
        _, user = _new_user(c)
        assert c.get("/me", headers=user).status_code == 200
        clock.advance(days=31)
        c.app.state.token_cache.clear()
        assert c.get("/me", headers=user).status_code == 401


def test_a_rotation_in_one_worker_reaches_another_within_a_poll(settings, clock) -> None:
    one = create_app(settings, registry=fake_registry(), clock=clock)
    two = create_app(settings, registry=fake_registry(), clock=clock)
    from fastapi.testclient import TestClient

    admin_headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with (
        TestClient(one, headers=admin_headers) as a,
        TestClient(two, headers=admin_headers) as b,
    ):
        user_id, user = _new_user(a)
        assert b.get("/me", headers=user).status_code == 200  # cached in worker two
        assert a.post(f"/users/{user_id}/tokens").status_code == 201
        time.sleep(two.state.token_cache.poll_seconds + 0.05)
        assert b.get("/me", headers=user).status_code == 401


def test_anonymous_analysis_when_allowed_is_keyed_on_the_address(settings, clock) -> None:
    open_ = settings.model_copy(update={"allow_anonymous": True})
    with make_client(open_, fake_registry(), clock, token=None) as c:
        response = c.post("/analyze", json={"audio_data": AUDIO})
        assert response.status_code == 200 and response.json()["stored"] is False
        assert c.get("/sessions").status_code == 401


def test_livez_needs_no_database_and_health_is_cached(settings, clock) -> None:
    import sqlalchemy as sa

    with make_client(settings, fake_registry(), clock, token=None) as c:
        statements = []
        sa.event.listen(
            c.app.state.engine, "before_cursor_execute", lambda *a, **k: statements.append(1)
        )
        assert c.get("/livez").json() == {"status": "ok"}
        assert statements == []
        codes = [c.get("/health").status_code for _ in range(50)]
        assert set(codes) == {200}
        assert len(statements) <= 3 * 2  # one readiness check (a few statements) per second


def test_livez_answers_while_the_database_is_down(clock) -> None:
    from mindsync.core.config import Settings

    down = Settings(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none", auto_migrate=False)
    with make_client(down, fake_registry(), clock, token=None) as c:
        assert c.get("/livez").status_code == 200
        assert c.get("/health").status_code == 503


def test_auth_answers_204_for_a_valid_token_and_401_otherwise(admin) -> None:
    _, user = _new_user(admin)
    assert admin.get("/auth", headers=user).status_code == 204
    assert admin.get("/auth").status_code == 204  # the administrator
    assert admin.get("/auth", headers={"Authorization": ""}).status_code == 401
    assert admin.get("/auth", headers={"Authorization": "Bearer ms_nope"}).status_code == 401
