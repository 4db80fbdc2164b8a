"""The server-rendered web pages: sign in, book, my bookings, the dispatch board, my schedule.

Jinja2 templates (autoescaped, ``StrictUndefined``), one CSS file and a
little plain JavaScript under ``/static``; no build step. The pages call the
same booking services as the API, never the API itself.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from api.web.context import WEB_DIR, PageError, SignInRequired, sign_in_url


def install_web(app: FastAPI) -> None:
    """Add the pages, their static files and the handlers that turn refusals into pages."""
    from api.web import account, board, link, requester, schedule

    app.mount("/static", StaticFiles(directory=str(WEB_DIR / "static")), name="static")
    for module in (account, requester, board, schedule, link):
        app.include_router(module.router)

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        return RedirectResponse(sign_in_url(exc.next_url), status_code=303)

    @app.exception_handler(PageError)
    async def _page_error(request: Request, exc: PageError) -> Response:
        return exc.response
