"""Sync and async clients of the MindSync HTTP API.

Both retry a request answered 429 or 503 (or cut off by the network) after the server's
``Retry-After`` (or a short back-off), at most ``max_retries`` times. ``analyze`` always sends
a ``session_id`` (random unless given), so a retry of a request whose answer was lost returns
the stored result instead of analysing twice; it is also sent as ``Idempotency-Key``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any

import httpx2 as httpx

from mindsync_client.encoding import encode_audio, encode_image, encode_motion
from mindsync_client.errors import MindSyncError, error_from
from mindsync_client.models import AnalysisResult

RETRY_STATUSES = frozenset({429, 503})
DEFAULT_BACKOFF_S = 0.5
MAX_WAIT_S = 60.0


def analysis_body(
    *,
    face: Any = None,
    audio: Any = None,
    motion: Any = None,
    user_id: str | None = None,
    session_id: str | uuid.UUID | None = None,
    timestamp: datetime | str | None = None,
    duration_seconds: float | None = None,
    face_focus: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """The JSON body of ``POST /analyze``; ``session_id`` is always set (random if absent)."""
    if face is None and audio is None and motion is None:
        raise ValueError("give at least one of face, audio or motion")
    body: dict[str, Any] = {"session_id": str(session_id or uuid.uuid4())}
    if face is not None:
        body["face_image"] = encode_image(face)
    if audio is not None:
        body["audio_data"] = encode_audio(audio)
    if motion is not None:
        body["motion_data"] = encode_motion(motion)
    if user_id is not None:
        body["user_id"] = user_id
    if timestamp is not None:
        body["timestamp"] = timestamp.isoformat() if isinstance(timestamp, datetime) else timestamp
    if duration_seconds is not None:
        body["duration_seconds"] = duration_seconds
    if face_focus is not None:
        body["face_focus"] = {"x": face_focus[0], "y": face_focus[1]}
    return body


def _wait(error: MindSyncError | None, attempt: int) -> float:
    if error is not None and error.retry_after is not None:
        return min(error.retry_after, MAX_WAIT_S)
    return min(DEFAULT_BACKOFF_S * 2.0**attempt, MAX_WAIT_S)


def _result(response: httpx.Response) -> Any:
    if response.is_success:
        return response.json() if response.content else None
    try:
        body = response.json()
    except ValueError:
        body = None
    raise error_from(response.status_code, body, response.headers)


def _preferences(user_id: str | None, changes: dict[str, Any]) -> dict[str, Any]:
    body = {k: v for k, v in changes.items() if v is not None}
    if user_id is not None:
        body["user_id"] = user_id
    return body


CONSENT_FIELDS = {"face": "face_enabled", "voice": "audio_enabled", "motion": "motion_enabled"}


class Client:
    """A synchronous client: ``Client(url, token)``; use it as a context manager."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 60.0,
        max_retries: int = 3,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.max_retries = max_retries
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """One API call with retries on 429/503 and lost connections; raises typed errors."""
        attempt = 0
        while True:
            error: MindSyncError | None = None
            try:
                return _result(self._http.request(method, path, **kwargs))
            except MindSyncError as exc:
                if exc.status not in RETRY_STATUSES or attempt >= self.max_retries:
                    raise
                error = exc
            except httpx.TransportError:
                if attempt >= self.max_retries:
                    raise
            time.sleep(_wait(error, attempt))
            attempt += 1

    def analyze(self, **kwargs: Any) -> AnalysisResult:
        """Analyse ``face``, ``audio`` and/or ``motion`` (see :func:`analysis_body`)."""
        body = analysis_body(**kwargs)
        headers = {"Idempotency-Key": body["session_id"]}
        return AnalysisResult.from_json(
            self.request("POST", "/analyze", json=body, headers=headers)
        )

    def me(self) -> dict[str, Any]:
        """Who the token belongs to."""
        return dict(self.request("GET", "/me"))

    def give_consent(self, *modalities: str, user_id: str | None = None) -> dict[str, Any]:
        """Record consent to ``modalities`` (face, voice, motion); returns the preferences."""
        changes = {CONSENT_FIELDS[m]: True for m in modalities}
        return dict(self.request("POST", "/preferences", json=_preferences(user_id, changes)))

    def set_preferences(self, user_id: str | None = None, **changes: Any) -> dict[str, Any]:
        """Change preferences (``face_enabled``, ``store_history``, ``retention_days`` …)."""
        return dict(self.request("POST", "/preferences", json=_preferences(user_id, changes)))

    def preferences(self, user_id: str) -> dict[str, Any]:
        """A user's preferences."""
        return dict(self.request("GET", f"/preferences/{user_id}"))

    def session(self, session_id: str) -> AnalysisResult:
        """One stored session."""
        return AnalysisResult.from_json(self.request("GET", f"/session/{session_id}"))

    def sessions(self, *, page_size: int = 50, **filters: Any) -> Iterator[AnalysisResult]:
        """Every stored session matching ``filters`` (user_id, since, until), newest first,
        fetched a page at a time."""
        offset = 0
        while True:
            params = {**filters, "limit": page_size, "offset": offset}
            page = self.request("GET", "/sessions", params=params)
            for item in page["items"]:
                yield AnalysisResult.from_json(item)
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                return

    def export(self, user_id: str) -> dict[str, Any]:
        """Everything held about a user."""
        return dict(self.request("GET", f"/users/{user_id}/export"))

    def erase(self, user_id: str) -> dict[str, Any]:
        """Erase everything held about a user; says what was deleted."""
        return dict(self.request("DELETE", f"/users/{user_id}"))

    def health(self) -> dict[str, Any]:
        """The service's health (a 503 raises :class:`ServiceUnavailable` after retries)."""
        return dict(self.request("GET", "/health"))


class AsyncClient:
    """The asynchronous client: ``async with AsyncClient(url, token) as client: ...``."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 60.0,
        max_retries: int = 3,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.max_retries = max_retries
        self._http = httpx.AsyncClient(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections."""
        await self._http.aclose()

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """One API call with retries on 429/503 and lost connections; raises typed errors."""
        attempt = 0
        while True:
            error: MindSyncError | None = None
            try:
                return _result(await self._http.request(method, path, **kwargs))
            except MindSyncError as exc:
                if exc.status not in RETRY_STATUSES or attempt >= self.max_retries:
                    raise
                error = exc
            except httpx.TransportError:
                if attempt >= self.max_retries:
                    raise
            await asyncio.sleep(_wait(error, attempt))
            attempt += 1

    async def analyze(self, **kwargs: Any) -> AnalysisResult:
        """Analyse ``face``, ``audio`` and/or ``motion`` (see :func:`analysis_body`)."""
        body = analysis_body(**kwargs)
        headers = {"Idempotency-Key": body["session_id"]}
        response = await self.request("POST", "/analyze", json=body, headers=headers)
        return AnalysisResult.from_json(response)

    async def give_consent(self, *modalities: str, user_id: str | None = None) -> dict[str, Any]:
        """Record consent to ``modalities`` (face, voice, motion); returns the preferences."""
        changes = {CONSENT_FIELDS[m]: True for m in modalities}
        return dict(await self.request("POST", "/preferences", json=_preferences(user_id, changes)))

    async def sessions(
        self, *, page_size: int = 50, **filters: Any
    ) -> AsyncIterator[AnalysisResult]:
        """Every stored session matching ``filters``, newest first, a page at a time."""
        offset = 0
        while True:
            params = {**filters, "limit": page_size, "offset": offset}
            page = await self.request("GET", "/sessions", params=params)
            for item in page["items"]:
                yield AnalysisResult.from_json(item)
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                return

    async def export(self, user_id: str) -> dict[str, Any]:
        """Everything held about a user."""
        return dict(await self.request("GET", f"/users/{user_id}/export"))

    async def erase(self, user_id: str) -> dict[str, Any]:
        """Erase everything held about a user; says what was deleted."""
        return dict(await self.request("DELETE", f"/users/{user_id}"))

    def stream(self, *, user_id: str | None = None, interval_ms: int = 500) -> Any:
        """``async with client.stream() as s:`` a live analysis over ``WS /ws/analyze``."""
        from mindsync_client.stream import Stream

        return Stream(self.base_url, self.token, user_id=user_id, interval_ms=interval_ms)
