"""MindSync behind a real nginx (Debian's package) with deploy/nginx.conf: tokens checked before
bodies are read, spoofed X-Forwarded-For replaced, WebSocket upgrade, and the hostile-client
pattern (made-up tokens with 22 MB bodies) refused while a real user is served.

Timings of the same pattern are measured in bench/bench_hostile.py, not asserted here.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.conftest import ADMIN_TOKEN
from tests.e2e.server import ServerProcess, free_port
from tests.e2e.test_durability import _motion

pytestmark = pytest.mark.slow
CONF = Path(__file__).resolve().parents[2] / "deploy" / "nginx.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
BIG = 22 * 1024 * 1024


def render(conf: str, *, upstream: int, listen: int, tmp: Path) -> str:
    """deploy/nginx.conf with a loopback upstream, a free port and temp folders under ``tmp``."""
    conf = conf.replace("server mindsync:8000;", f"server 127.0.0.1:{upstream};")
    conf = conf.replace("listen 8080;", f"listen 127.0.0.1:{listen};")
    conf = conf.replace("/tmp/mindsync-nginx.pid", str(tmp / "nginx.pid"))
    return conf.replace("/tmp/nginx-", str(tmp / "nginx-"))


@pytest.fixture
def proxied(tmp_path):
    if not Path(NGINX).exists():
        pytest.skip("nginx is not installed (Debian: apt-get install nginx-light; `make proxy`)")
    server = ServerProcess(
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        env={
            "MINDSYNC_ADMIN_TOKEN": ADMIN_TOKEN,
            "MINDSYNC_TRUSTED_PROXIES": "127.0.0.1",
            "MINDSYNC_ANALYSIS_PROCESSES": "0",
            "MINDSYNC_AUTH_FAILURES_PER_MINUTE": "30",
        },
        log=tmp_path / "server.log",
    )
    server.start()
    # nginx's workers run as nobody: their temp folders must be reachable by them.
    scratch = Path(tempfile.mkdtemp(prefix="mindsync-nginx-"))
    scratch.chmod(0o777)
    port = free_port()
    conf = tmp_path / "nginx.conf"
    conf.write_text(render(CONF.read_text(), upstream=server.port, listen=port, tmp=scratch))
    with (tmp_path / "nginx.log").open("wb") as log:  # the child keeps its own descriptor
        nginx = subprocess.Popen(
            [NGINX, "-c", str(conf), "-p", str(tmp_path), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(url + "/livez", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or nginx.poll() is not None:
                raise RuntimeError((tmp_path / "nginx.log").read_text()[-2000:])
            time.sleep(0.1)
        yield url, port
    finally:
        nginx.terminate()
        nginx.wait(10)
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)


def _consent(url: str, headers: dict[str, str], user_id: str) -> None:
    consent = {"user_id": user_id, "face_enabled": True, "audio_enabled": True}
    response = httpx.post(
        url + "/preferences", json={**consent, "motion_enabled": True}, headers=headers
    )
    assert response.status_code == 200, response.text


def _post_headers_only(port: int, token: str) -> tuple[bytes, float]:
    """Announce a 22 MB body, send none of it, and wait for the answer."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"POST /analyze HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {token}\r\nContent-Length: {BIG}\r\n\r\n".encode()
        )
        reply = sock.recv(65536)
    return reply, time.monotonic() - started


def test_a_made_up_token_is_refused_before_the_body_is_sent(proxied) -> None:
    _, port = proxied
    reply, _ = _post_headers_only(port, "ms_made-up")
    assert reply.startswith(b"HTTP/1.1 401")  # answered though not one body byte was sent


def test_a_real_user_is_served_through_the_proxy(proxied) -> None:
    url, _ = proxied
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    user = httpx.post(
        url + "/users", json={"name": "Nia", "consent": ["face", "voice", "motion"]}, headers=admin
    ).json()
    headers = {"Authorization": f"Bearer {user['token']}"}
    _consent(url, headers, user["user_id"])
    response = httpx.post(url + "/analyze", json={"motion_data": _motion(1)}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["stored"] is True
    assert httpx.get(url + "/sessions", headers=headers).json()["total"] == 1
    assert httpx.get(url + "/sessions").status_code == 401
    assert httpx.get(url + "/health").status_code == 200
    big = httpx.post(
        url + "/preferences", content=b"x" * 100_000, headers={**headers, "Content-Type": "a/b"}
    )
    assert big.status_code == 413


def test_spoofed_forwarded_addresses_do_not_buy_more_guesses(proxied) -> None:
    url, _ = proxied
    codes = [
        httpx.get(
            url + "/sessions",
            headers={"Authorization": f"Bearer ms_guess-{i}", "X-Forwarded-For": f"10.9.{i}.1"},
        ).status_code
        for i in range(40)
    ]
    assert codes[:30] == [401] * 30
    assert set(codes[30:]) == {429}


def test_websockets_pass_through_the_proxy(proxied) -> None:
    from websockets.sync.client import connect

    _, port = proxied
    with connect(f"ws://127.0.0.1:{port}/ws/analyze") as ws:
        ws.send(json.dumps({"type": "start", "token": ADMIN_TOKEN}))
        assert json.loads(ws.recv(timeout=10))["type"] == "ready"
        ws.send(json.dumps({"type": "stop"}))


def test_hostile_clients_are_refused_while_a_user_is_served(proxied) -> None:
    url, port = proxied
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    user = httpx.post(
        url + "/users", json={"name": "Ola", "consent": ["face", "voice", "motion"]}, headers=admin
    ).json()
    headers = {"Authorization": f"Bearer {user['token']}"}
    _consent(url, headers, user["user_id"])
    stop = threading.Event()
    hostile_codes: list[int] = []

    def attacker(n: int) -> None:
        body = b"{" + b" " * (BIG - 2) + b"}"
        with httpx.Client(timeout=30) as client:
            while not stop.is_set():
                try:
                    r = client.post(
                        url + "/analyze",
                        content=body,
                        headers={
                            "Authorization": f"Bearer ms_fake-{n}-{time.monotonic()}",
                            "Content-Type": "application/json",
                        },
                    )
                    hostile_codes.append(r.status_code)
                except httpx.TransportError:
                    hostile_codes.append(0)  # closed on them: also a refusal

    slow = []
    for _ in range(50):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(b"GET /sessions HTTP/1.1\r\nHost: x\r\n")
        slow.append(sock)
    threads = [threading.Thread(target=attacker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    try:
        served = [
            httpx.post(
                url + "/analyze", json={"motion_data": _motion(1)}, headers=headers, timeout=30
            ).status_code
            for _ in range(10)
        ]
    finally:
        stop.set()
        for t in threads:
            t.join(60)
        for sock in slow:
            sock.close()
    assert served == [200] * 10
    assert hostile_codes and 200 not in hostile_codes
    assert set(hostile_codes) <= {0, 401, 413, 429}
