"""Typed exceptions built from the API's error shape ``{"error": {code, message, field, ...}}``."""

from __future__ import annotations

from typing import Any


class MindSyncError(Exception):
    """Any error the service answered with; ``code`` is the API's machine-readable code."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str,
        field: str | None = None,
        request_id: str | None = None,
        details: list[dict[str, Any]] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.field = field
        self.request_id = request_id
        self.details = details or []
        self.retry_after = retry_after

    def __str__(self) -> str:
        where = f" ({self.field})" if self.field else ""
        return f"{self.status} {self.code}{where}: {self.message}"


class AuthenticationError(MindSyncError):
    """401: no token, or an unknown or revoked one."""


class ConsentRequired(MindSyncError):
    """403 ``consent_required``: the user has not consented to any modality sent."""

    def __init__(self, message: str, *, modalities: list[str], **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.modalities = modalities


class NotFound(MindSyncError):
    """404: it does not exist, or is not yours."""


class Conflict(MindSyncError):
    """409: e.g. a session id already used by someone else."""


class PayloadTooLarge(MindSyncError):
    """413: an input is past a limit; the message names it."""


class UnsupportedMediaType(MindSyncError):
    """415: an image or clip that cannot be decoded."""


class ValidationError(MindSyncError):
    """422: an invalid request; ``field`` and ``details`` say what."""


class RateLimited(MindSyncError):
    """429: too many requests; retry after ``retry_after`` seconds."""


class ServiceUnavailable(MindSyncError):
    """503: database or analysis temporarily unavailable; retry after ``retry_after``."""


class ServerError(MindSyncError):
    """Another 5xx: quote ``request_id`` when reporting it."""


BY_STATUS: dict[int, type[MindSyncError]] = {
    401: AuthenticationError,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    422: ValidationError,
    429: RateLimited,
    503: ServiceUnavailable,
}


def retry_after_seconds(value: str | None) -> float | None:
    """The seconds of a ``Retry-After`` header (delta-seconds form), or ``None``."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def error_from(status: int, body: Any, headers: Any) -> MindSyncError:
    """The typed exception for an error response (any body, even one that is not JSON)."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        error = {"code": "http_error", "message": f"HTTP {status}"}
    kwargs: dict[str, Any] = {
        "status": status,
        "code": str(error.get("code") or "http_error"),
        "field": error.get("field"),
        "request_id": error.get("request_id") or headers.get("x-request-id"),
        "details": error.get("details"),
        "retry_after": retry_after_seconds(headers.get("retry-after")),
    }
    message = str(error.get("message") or f"HTTP {status}")
    if kwargs["code"] == "consent_required":
        return ConsentRequired(message, modalities=list(error.get("modalities") or []), **kwargs)
    cls = BY_STATUS.get(status, ServerError if status >= 500 else MindSyncError)
    return cls(message, **kwargs)
