"""Swagger UI in a real browser (Debian's Chromium): /docs loads offline, its Authorize button
takes a user's token, and "Try it out" runs ``POST /analyze`` with the documented example."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from tests.conftest import ADMIN_TOKEN, CONSENT_ALL
from tests.e2e.server import ServerProcess

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
TIMEOUT_MS = 60_000


@pytest.fixture
def playwright_api() -> Any:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (make browser)")
    return pytest.importorskip(
        "playwright.sync_api",
        reason="the playwright package is missing: pip install -r requirements-test.lock",
    )


@pytest.fixture
def server(tmp_path) -> Iterator[ServerProcess]:
    process = ServerProcess(
        database_url=f"sqlite:///{tmp_path / 'docs.db'}",
        env={"MINDSYNC_ADMIN_TOKEN": ADMIN_TOKEN},
        log=tmp_path / "server.log",
    )
    process.start()
    yield process
    process.stop()


def test_docs_authorize_and_try_out_analyze_with_the_documented_example(
    playwright_api, server
) -> None:
    user = httpx.post(
        server.url + "/users",
        json={"name": "Docs reader", "consent": CONSENT_ALL},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=10,
    ).json()
    expect = playwright_api.expect
    outside: list[str] = []
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.on(
                "request",
                lambda r: None if r.url.startswith(server.url) else outside.append(r.url),
            )
            page.goto(server.url + "/docs")
            authorize = page.locator("button.authorize").first
            expect(authorize).to_be_visible()
            authorize.click()
            page.locator(".auth-container input").first.fill(user["token"])
            page.locator(".auth-btn-wrapper button.authorize").click()
            page.locator(".auth-btn-wrapper button.btn-done").click()

            operation = page.locator("#operations-analysis-analyze_analyze_post")
            operation.locator(".opblock-summary").click()
            operation.locator("button.try-out__btn").click()
            operation.locator("button.execute").click()
            status = operation.locator(".live-responses-table tr.response .response-col_status")
            expect(status.first).to_have_text("200", timeout=TIMEOUT_MS)
            body = operation.locator(".live-responses-table .microlight").first.inner_text()
            assert '"stress_confidence"' in body and user["user_id"] in body
        finally:
            browser.close()
    assert outside == []  # nothing loaded from the internet
