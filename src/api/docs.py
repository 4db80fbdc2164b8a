"""The interactive API docs at ``/api/v1/docs``, served whole from the package.

Swagger UI's script and style come from the ``fastapi-offline`` wheel (which
ships the current ``swagger-ui-dist`` files), not from a CDN: the docs work on
a machine without internet and the page loads nothing from another site. The
page starts Swagger UI from a file (``/static/swagger-init.js``), not an
inline script, so its Content-Security-Policy allows scripts from this origin
only. ReDoc is not offered: one documentation page is enough.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_PATH = "/api/v1/docs"
ASSETS_PATH = f"{DOCS_PATH}/assets"
ASSETS_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"

DOCS_HEADERS: dict[str, str] = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" type="image/png" href="{root}{assets}/favicon.png">
<link rel="stylesheet" href="{root}{assets}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi_url}"></div>
<script src="{root}{assets}/swagger-ui-bundle.js"></script>
<script src="{root}/static/swagger-init.js"></script>
</body>
</html>
"""


def install_docs(app: FastAPI) -> None:
    """Serve Swagger UI's files and the page that starts it (create the app with
    ``docs_url=None`` and ``redoc_url=None``, so FastAPI's CDN pages are not there)."""
    app.mount(ASSETS_PATH, StaticFiles(directory=str(ASSETS_DIR)), name="docs-assets")
    openapi_url = app.openapi_url or "/api/v1/openapi.json"

    @app.get(DOCS_PATH, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        html = PAGE.format(
            title=escape(f"{app.title} API"),
            root=escape(root),
            assets=ASSETS_PATH,
            openapi_url=escape(root + openapi_url),
        )
        return HTMLResponse(html, headers=DOCS_HEADERS)
