#!/usr/bin/env bash
# CI: schemathesis against a real `mindsync serve` (SQLite), as the administrator with the
# bearer scheme: every phase (examples, coverage, fuzzing, stateful), every check but
# positive_data_acceptance (a schema-valid image or clip can still be undecodable: 415/422),
# a fixed seed, over 10,000 cases (10,992 with seed 17). Budget: 20 minutes (it took 4 on 2
# cores shared with other jobs).
set -euo pipefail
cd "$(dirname "$0")/.."

# A free port unless told: a fixed one collides with another run on the same machine.
PORT="${SCHEMATHESIS_PORT:-$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
EXAMPLES="${SCHEMATHESIS_EXAMPLES:-1000}"
WORK="$(mktemp -d)"
TOKEN="schemathesis-admin-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
trap 'kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; rm -rf "$WORK"' EXIT

DATABASE_URL="sqlite:///$WORK/st.db" \
MINDSYNC_ADMIN_TOKEN="$TOKEN" \
MINDSYNC_RATE_LIMIT_PER_MINUTE=0 \
MINDSYNC_AUTH_FAILURES_PER_MINUTE=0 \
MINDSYNC_ANALYSIS_PROCESSES=1 \
    .venv/bin/mindsync serve --port "$PORT" >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 120); do
    if .venv/bin/python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$PORT/livez', timeout=1)" 2>/dev/null; then
        break
    fi
    if ! kill -0 "$SERVER" 2>/dev/null; then
        echo "the server did not start:"; tail -n 30 "$WORK/server.log"; exit 1
    fi
    sleep 0.5
done

timeout 1200 .venv/bin/schemathesis run "http://127.0.0.1:$PORT/openapi.json" \
    -H "Authorization: Bearer $TOKEN" \
    --phases examples,coverage,fuzzing,stateful \
    --checks all --exclude-checks positive_data_acceptance \
    --seed 17 --max-examples "$EXAMPLES" --request-timeout 30 \
    || { status=$?; tail -n 50 "$WORK/server.log"; exit "$status"; }
