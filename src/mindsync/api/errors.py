"""The one place where errors become HTTP responses, all in the same shape.

Clients never see a traceback or their own rejected input echoed back.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from mindsync.analysis.errors import (
    AnalysisError,
    AnalysisInterrupted,
    InputError,
    ModalityUnavailable,
    ModelLoadError,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from mindsync.core.logging import request_id_var

logger = logging.getLogger(__name__)


class ApiError(Exception):
    """An error raised by the web layer with its status, code and optional field."""

    status_code = 422
    code = "invalid_value"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class JSONTooDeep(ApiError):
    """A JSON body that nests arrays and objects deeper than the configured limit."""

    code = "json_too_deep"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"request body nests deeper than the limit of {limit} levels", field="body"
        )
        self.limit = limit


class NotFound(ApiError):
    """The resource does not exist, or the caller may not know that it does."""

    status_code = 404
    code = "not_found"


class Unauthorized(ApiError):
    """No valid credentials for an endpoint that needs them."""

    status_code = 401
    code = "unauthorized"


class ConsentRequired(ApiError):
    """The user has not consented to any modality the request holds (GDPR Art. 9)."""

    status_code = 403
    code = "consent_required"

    def __init__(self, message: str, *, field: str | None = None, modalities: list[str]) -> None:
        super().__init__(message, field=field)
        self.modalities = modalities


class Gone(NotFound):
    """The user was erased: their id cannot come back through any side effect."""

    status_code = 410
    code = "user_erased"


class Conflict(ApiError):
    """The request conflicts with what is stored."""

    status_code = 409
    code = "conflict"


def error_body(
    code: str,
    message: str,
    *,
    field: str | None = None,
    details: list[dict[str, Any]] | None = None,
    modalities: list[str] | None = None,
) -> dict[str, Any]:
    """The JSON body shared by every error response."""
    body: dict[str, Any] = {
        "code": code,
        "message": message,
        "field": field,
        "request_id": request_id_var.get(),
    }
    if details:
        body["details"] = details
    if modalities:
        body["modalities"] = modalities
    return {"error": body}


def error_response(
    status_code: int,
    code: str,
    message: str,
    *,
    field: str | None = None,
    details: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
    modalities: list[str] | None = None,
) -> JSONResponse:
    """A JSON error response in the shared shape."""
    return JSONResponse(
        error_body(code, message, field=field, details=details, modalities=modalities),
        status_code=status_code,
        headers=headers,
    )


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:] or parts
    path = ""
    for part in parts:
        if part.isdigit():
            path += f"[{part}]"
        elif path == "motion_data" and part in {"samples", "columns"}:
            continue  # the motion form's union tag means nothing to a client
        else:
            path += f".{part}" if path else part
    return path or "body"


def _analysis_status(exc: AnalysisError) -> int:
    if isinstance(exc, PayloadTooLarge):
        return 413
    if isinstance(exc, UnsupportedMediaType):
        return 415
    if isinstance(exc, InputError):
        return 422
    if isinstance(exc, ModalityUnavailable):
        return 501
    if isinstance(exc, ModelLoadError | AnalysisInterrupted):
        return 503
    return 500


async def _validation_handler(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details: list[dict[str, Any]] = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            # The parser's own words (never the input), and where it stopped reading.
            reason = str((err.get("ctx") or {}).get("error", "invalid JSON"))[:200]
            loc = err.get("loc", ())
            where = f" at character {loc[1]}" if len(loc) > 1 else ""
            message = (
                f"the body is not valid JSON (RFC 8259; NaN and Infinity are not): {reason}{where}"
            )
            details.append({"field": "body", "message": message})
            continue
        # Never echo ``input`` or ``ctx``: they may hold a whole image, or NaN that breaks JSON.
        message = str(err["msg"]).removeprefix("Value error, ")
        details.append({"field": _field_path(err.get("loc", ())), "message": message})
    first: dict[str, Any] = details[0] if details else {"field": None, "message": "invalid request"}
    message = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
    return error_response(422, "validation_error", message, field=first["field"], details=details)


async def _analysis_handler(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AnalysisError)
    status = _analysis_status(exc)
    if status >= 500 and status != 501:
        logger.error("analysis failed: %s (%s)", exc.code, exc.message)
    headers = {"Retry-After": "1"} if isinstance(exc, AnalysisInterrupted) else None
    return error_response(status, exc.code, exc.message, field=exc.field, headers=headers)


async def _api_handler(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else None
    modalities = exc.modalities if isinstance(exc, ConsentRequired) else None
    return error_response(
        exc.status_code,
        exc.code,
        exc.message,
        field=exc.field,
        headers=headers,
        modalities=modalities,
    )


async def _http_handler(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
        exc.status_code, "http_error"
    )
    message = exc.detail if isinstance(exc.detail, str) else "request failed"
    return error_response(exc.status_code, code, message, headers=exc.headers)


async def _database_handler(_: Request, exc: Exception) -> JSONResponse:
    logger.error("database unavailable: %s", type(exc).__name__)
    return error_response(503, "database_unavailable", "the database is unavailable; retry later")


async def _unhandled_handler(_: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error", exc_info=exc)
    return error_response(500, "internal_error", "internal error; quote the request_id")


def install_error_handlers(app: FastAPI) -> None:
    """Register every handler on ``app``."""
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(AnalysisError, _analysis_handler)
    app.add_exception_handler(ApiError, _api_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_exception_handler(OperationalError, _database_handler)
    app.add_exception_handler(Exception, _unhandled_handler)


# Shared documentation of error responses for route decorators.
def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for ``codes``, all with the shared error model."""
    from mindsync.api.schemas import ErrorResponse

    text = {
        400: "Bad request",
        401: "No valid bearer token",
        403: "The user has not consented to any modality in the request (code "
        "consent_required; details name each modality)",
        404: "Not found (or not yours)",
        409: "Conflict with stored data",
        410: "The user was erased; the id cannot be used again",
        429: "Too many requests; retry after the Retry-After header's seconds",
        413: "An input is past a configured limit; the message names it",
        415: "An input is in a format that cannot be decoded",
        422: "Invalid request; the message names the field",
        501: "A requested modality has no analyser in this build",
        503: "The database or a model is unavailable, or an analysis process stopped; retry",
    }
    return {
        code: {"model": ErrorResponse, "description": text.get(code, "Error")} for code in codes
    }
