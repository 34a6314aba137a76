"""The floor server of ``bench/run.py``: what any FastAPI service pays for the same request.

FastAPI, an orjson parse of the body, one SQLite insert (WAL, ``synchronous=NORMAL``, as
MindSync configures SQLite), an orjson answer: nothing else. ``bench/run.py`` serves it with
gunicorn and uvicorn's worker next to MindSync and reports MindSync's throughput as a fraction
of this one's, a ratio that holds from run to run on a shared machine where absolute figures
do not. uvicorn's worker asks for ``loop="auto"`` and ``http="auto"``, which with
``uvicorn[standard]`` installed are uvloop and httptools (checked in a running worker:
``uvloop.Loop``, ``HttpToolsProtocol``): the same stack as MindSync's ``MindSyncWorker``
(httptools, with MindSync's deadlines and connection cap, on uvloop).

    FLOOR_DB=/tmp/floor.db gunicorn -k uvicorn.workers.UvicornWorker -w 1 floor_app:app
"""

from __future__ import annotations

import os
import sqlite3
import uuid

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

app = FastAPI()
_db = sqlite3.connect(os.environ.get("FLOOR_DB", "floor.db"), check_same_thread=False)
_db.execute("PRAGMA journal_mode=WAL")
_db.execute("PRAGMA synchronous=NORMAL")
_db.execute("CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, samples INTEGER)")
_db.commit()


@app.get("/health")
async def health() -> Response:
    """Ready."""
    return Response(b'{"status":"ok"}', media_type="application/json")


@app.post("/analyze")
async def analyze(request: Request) -> Response:
    """Parse the body, store one row, answer."""
    data = orjson.loads(await request.body())
    motion = data.get("motion_data") if isinstance(data, dict) else None
    samples = len(motion) if isinstance(motion, list) else 0
    session_id = str(uuid.uuid4())
    _db.execute("INSERT INTO sessions (id, samples) VALUES (?, ?)", (session_id, samples))
    _db.commit()
    return Response(
        orjson.dumps({"session_id": session_id, "samples": samples, "stored": True}),
        media_type="application/json",
    )
