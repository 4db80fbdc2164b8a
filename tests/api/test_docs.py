"""The API docs page and its assets come from the server itself, never from a CDN."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient


def test_the_docs_page_loads_only_files_of_this_server(client: TestClient) -> None:
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    sources = re.findall(r'(?:src|href)="([^"]+)"', response.text)
    assert sources and all(s.startswith("/") and not s.startswith("//") for s in sources)
    assert "cdn" not in response.text and "<script>" not in response.text
    for source in sources:
        asset = client.get(source)
        assert asset.status_code == 200, source
        assert len(asset.content) > 100, source
    assert 'data-openapi-url="/api/v1/openapi.json"' in response.text
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe" not in csp


def test_redoc_is_not_offered(client: TestClient) -> None:
    assert client.get("/redoc").status_code == 404
    assert client.get("/api/v1/redoc").status_code == 404
