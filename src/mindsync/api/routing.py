"""The route class of the API: request JSON is parsed with orjson, large bodies off the loop."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from mindsync.api.errors import ApiError, JSONTooDeep
from mindsync.api.middleware import DEPTH_LIMIT_STATE, json_depth
from mindsync.api.motion_input import decode_analysis_body

# Parsing below this size costs less than handing it to a thread.
OFF_LOOP_BYTES = 32 * 1024
#: ``POST /analyze`` bodies up to this size are split into their fields on the event loop
#: (msgspec skims the motion samples without building them and orjson parses the rest:
#: 0.27 ms for 1,500 list-form samples, 0.51 ms for a full 520 KB request, measured): less
#: than the thread hop costs the serving process (measured: +6-11 % motion requests/s).
SPLIT_ON_LOOP_BYTES = 1024 * 1024


def loads(body: bytes) -> Any:
    """Parse JSON with orjson; what orjson refuses is parsed again by the standard library.

    The second parse keeps the errors clients get precise: NaN and Infinity (which Python's
    ``json.dumps`` writes) then reach validation, which names the offending field, and
    malformed JSON raises ``json.JSONDecodeError`` with its position. A body that is not
    UTF-8 is malformed JSON too (RFC 8259 §8.1): a ``JSONDecodeError``, so a 422, not a 400.
    """
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        try:
            text = body.decode("utf-8") if isinstance(body, bytes | bytearray) else body
        except UnicodeDecodeError as exc:
            raise json.JSONDecodeError("the body is not valid UTF-8", "", int(exc.start)) from None
        return json.loads(text)


def analysis_loads(body: bytes, max_depth: int | None = None) -> Any:
    """:func:`loads` for ``POST /analyze``: a well-formed body's motion data stays JSON text
    for the analysis process to parse (:func:`~mindsync.api.motion_input.decode_analysis_body`);
    any other body is parsed by :func:`loads` and validated field by field, as before.

    With ``max_depth`` (the middleware left the depth check to this route), raises
    :class:`JSONTooDeep` for a body that nests deeper.
    """
    parsed = decode_analysis_body(body, max_depth=max_depth)
    return parsed if parsed is not None else precise_loads(body, max_depth)


def precise_loads(body: bytes, max_depth: int | None = None) -> Any:
    """:func:`loads` after the depth check (``max_depth``): the path of a body that
    :func:`~mindsync.api.motion_input.decode_analysis_body` did not take."""
    if max_depth is not None and json_depth(body) > max_depth:
        raise JSONTooDeep(max_depth)
    return loads(body)


class JSONRequest(Request):
    """A request whose :meth:`json` uses :func:`loads` (orjson parses sensor payloads about
    5x faster than the standard library), in a worker thread when the body is large, so that
    one upload never stalls the other connections. FastAPI turns a ``JSONDecodeError`` into
    the usual 422.
    """

    #: The parser of the body (a subclass may recognise its route's payload).
    parse: Callable[[bytes], Any] = staticmethod(loads)

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            if len(body) >= OFF_LOOP_BYTES:
                self._json = await run_in_threadpool(self.parse, body)
            else:
                self._json = self.parse(body)
        return self._json


class AnalysisJSONRequest(JSONRequest):
    """A :class:`JSONRequest` parsed by :func:`analysis_loads`, which also checks the JSON
    depth limit when the middleware left that to the route.

    A well-formed body of up to :data:`SPLIT_ON_LOOP_BYTES` is split on the event loop;
    anything else (a larger body, or one the split leaves to the precise path, which may
    parse a whole malformed body) is parsed in a worker thread, as every large body was.
    """

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            limit = self._depth_limit()
            if len(body) > SPLIT_ON_LOOP_BYTES:
                self._json = await run_in_threadpool(analysis_loads, body, limit)
                return self._json
            parsed = decode_analysis_body(body, max_depth=limit)
            if parsed is None:  # the precise path, without splitting the body again
                parsed = (
                    await run_in_threadpool(precise_loads, body, limit)
                    if len(body) >= OFF_LOOP_BYTES
                    else precise_loads(body, limit)
                )
            self._json = parsed
        return self._json

    def _depth_limit(self) -> int | None:
        limit: int | None = self.scope.get("state", {}).get(DEPTH_LIMIT_STATE)
        return limit


class JSONRoute(APIRoute):
    """An :class:`APIRoute` whose handlers see a :class:`JSONRequest`."""

    request_class: type[JSONRequest] = JSONRequest

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        request_class = self.request_class

        async def route_handler(request: Request) -> Response:
            try:
                return await handler(request_class(request.scope, request.receive))
            except HTTPException as exc:
                # FastAPI turns anything but malformed JSON raised while parsing the body
                # into a 400 "error parsing the body"; an ApiError (the depth limit) keeps
                # its own status, code and message.
                if isinstance(exc.__cause__, ApiError):
                    raise exc.__cause__ from None
                raise

        return route_handler


class AnalysisRoute(JSONRoute):
    """The route of ``POST /analyze``: its body's motion data is parsed straight to arrays."""

    request_class = AnalysisJSONRequest
