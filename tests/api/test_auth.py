"""Authentication and ownership: user A can never read, change, export or erase user B's data."""

from __future__ import annotations

import uuid

import pytest

from mindsync.core.config import Settings
from tests.api.fakes import fake_registry
from tests.api.test_analyze import AUDIO, FACE, count
from tests.conftest import CONSENT_ALL, make_client


@pytest.fixture
def admin(settings, clock):
    with make_client(settings, fake_registry(), clock) as c:
        yield c


def _user(admin, name: str) -> tuple[str, str]:
    response = admin.post("/users", json={"name": name, "consent": CONSENT_ALL})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["token"].startswith("ms_") and len(body["token"]) >= 43
    return body["user_id"], body["token"]


@pytest.fixture
def two_users(admin):
    a_id, a_token = _user(admin, "Alice")
    b_id, b_token = _user(admin, "Bob")
    a = {"Authorization": f"Bearer {a_token}"}
    b = {"Authorization": f"Bearer {b_token}"}
    session_b = admin.post("/analyze", json={"audio_data": AUDIO}, headers=b).json()["session_id"]
    admin.post("/preferences", json={"user_id": b_id, "retention_days": 9}, headers=b)
    return a_id, a, b_id, b, session_b


def test_a_user_acts_as_themselves_with_their_token(admin, two_users) -> None:
    a_id, a, _, _, _ = two_users
    response = admin.post("/analyze", json={"face_image": FACE}, headers=a)
    assert response.status_code == 200
    assert response.json()["user_id"] == a_id and response.json()["stored"] is True
    listing = admin.get("/sessions", headers=a).json()
    assert listing["total"] == 1 and listing["items"][0]["user_id"] == a_id


def test_user_a_cannot_touch_user_b_through_any_endpoint(admin, two_users, db_engine) -> None:
    _, a, b_id, _, session_b = two_users
    attempts = [
        admin.get(f"/session/{session_b}", headers=a),
        admin.get("/sessions", params={"user_id": b_id}, headers=a),
        admin.get(f"/preferences/{b_id}", headers=a),
        admin.post("/preferences", json={"user_id": b_id, "store_history": False}, headers=a),
        admin.post("/analyze", json={"user_id": b_id, "audio_data": AUDIO}, headers=a),
        admin.get(f"/users/{b_id}/export", headers=a),
        admin.delete(f"/users/{b_id}", headers=a),
        admin.post(f"/users/{b_id}/tokens", headers=a),
    ]
    for response in attempts:
        assert response.status_code == 404, (response.request.url, response.text)
    # The answer for another user's data is the same as for data that does not exist.
    assert (
        admin.get(f"/session/{uuid.uuid4()}", headers=a)
        .json()["error"]["message"]
        .startswith("session ")
    )
    assert admin.get(f"/preferences/{b_id}").json()["retention_days"] == 9
    assert admin.get(f"/session/{session_b}").status_code == 200
    assert count(db_engine, "sessions") == 1


def test_no_token_is_401_and_a_bad_token_is_401(admin, two_users) -> None:
    _, _, _, _, session_b = two_users
    anonymous = {"Authorization": ""}
    for method, path in [
        ("get", f"/session/{session_b}"),
        ("get", "/sessions"),
        ("post", "/analyze"),
    ]:
        kwargs = {"json": {"audio_data": AUDIO}} if method == "post" else {}
        response = getattr(admin, method)(path, headers=anonymous, **kwargs)
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"] == "Bearer"
    forged = {"Authorization": "Bearer ms_not-a-real-token"}
    assert admin.get("/sessions", headers=forged).status_code == 401
    assert admin.get("/sessions", headers={"Authorization": "Basic abc"}).status_code == 401
    assert admin.get("/health", headers=anonymous).status_code == 200


def test_me_names_the_token_owner(admin, two_users) -> None:
    a_id, a, _, _, _ = two_users
    assert admin.get("/me", headers=a).json() == {"kind": "user", "user_id": a_id, "name": "Alice"}
    assert admin.get("/me").json()["kind"] == "admin"
    assert admin.get("/me", headers={"Authorization": ""}).status_code == 401


def test_rotation_revokes_the_old_token(admin, two_users) -> None:
    a_id, a, _, _, _ = two_users
    rotated = admin.post(f"/users/{a_id}/tokens", headers=a)
    assert rotated.status_code == 201
    assert admin.get("/sessions", headers=a).status_code == 401
    new = {"Authorization": f"Bearer {rotated.json()['token']}"}
    assert admin.get("/sessions", headers=new).status_code == 200


def test_only_the_administrator_creates_users_and_reads_stats(admin, two_users) -> None:
    _, a, _, _, _ = two_users
    assert admin.post("/users", json={"name": "Eve"}, headers=a).status_code == 404
    assert admin.get("/stats", headers=a).status_code == 404
    assert admin.get("/stats").status_code == 200
    assert admin.post("/users", json={"name": "Dup", "user_id": "dup"}).status_code == 201
    assert admin.post("/users", json={"name": "Dup", "user_id": "dup"}).status_code == 409
    nul = admin.post("/users", json={"name": "bad\u0000name"})
    assert nul.status_code == 422 and nul.json()["error"]["field"] == "name"


def test_tokens_are_stored_only_as_hashes(admin, db_engine) -> None:
    _, token = _user(admin, "Hash")
    import sqlalchemy as sa

    with db_engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT * FROM api_tokens")).mappings().all()
    assert rows and all(token not in str(dict(row)) for row in rows)


def test_anonymous_analysis_when_allowed_is_never_stored(settings, clock, db_engine) -> None:
    open_settings = settings.model_copy(update={"allow_anonymous": True})
    with make_client(open_settings, fake_registry(), clock, token=None) as anonymous:
        response = anonymous.post("/analyze", json={"audio_data": AUDIO})
        assert response.status_code == 200
        assert response.json()["stored"] is False
        named = anonymous.post("/analyze", json={"audio_data": AUDIO, "user_id": "someone"})
        assert named.status_code == 401
        assert anonymous.get("/sessions").status_code == 401
    assert count(db_engine, "sessions") == 0


def test_short_admin_token_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="32"):
        Settings(admin_token="short")
