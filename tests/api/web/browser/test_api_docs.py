"""The interactive API docs work without internet: everything they load comes from the server."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.api.web.browser.conftest import DESKTOP

pytestmark = pytest.mark.browser


def test_the_api_docs_list_the_operations_offline_under_their_own_csp(
    server: str, chromium: Any, screenshot_dir: Path
) -> None:
    context = chromium.new_context(viewport=DESKTOP, locale="en-GB")
    here = urlsplit(server).netloc
    elsewhere: list[str] = []

    def offline(route: Any) -> None:
        """As on a machine without internet: whatever is not this server fails."""
        url = route.request.url
        if urlsplit(url).netloc == here or url.startswith("data:"):
            route.continue_()
        else:
            elsewhere.append(url)
            route.abort("internetdisconnected")

    context.route("**/*", offline)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
    response = page.goto(f"{server}/api/v1/docs")
    assert response is not None and response.status == 200
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    # Swagger UI builds the operations from the schema after a 1.5 MB bundle; on a loaded
    # machine that has taken more than 20 s. What the page said is kept for the failure.
    try:
        page.locator(".opblock").first.wait_for(timeout=60_000)
    except Exception as error:
        raise AssertionError(f"no operation listed; the page said: {console}") from error
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/v1/bookings" in {p.replace("\u200b", "").strip() for p in paths}
    assert page.locator(".opblock").count() >= 40
    page.screenshot(path=str(screenshot_dir / "api-docs.png"))
    assert page.locator(".info .title").first.inner_text().startswith("Truchement")
    assert elsewhere == [], f"the docs reached outside the server: {elsewhere}"
    refused = [line for line in console if "Content Security Policy" in line or "pageerror" in line]
    assert refused == []
    context.close()
