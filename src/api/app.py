"""The FastAPI application: one factory, so tests and `truchement serve` build the same app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import VERSION
from api.access_log import install_access_log_filter
from api.docs import install_docs
from api.errors import install_error_handlers
from api.middleware import install_middleware
from api.routers import assignments as assignments_router
from api.routers import bookings as bookings_router
from api.routers import calendar as calendar_router
from api.routers import health, languages, metrics, organisations, sites, tokens, users
from api.routers import me as me_router
from api.routers import notifications as notifications_router
from api.routers import offers as offers_router
from api.routers import plans as plans_router
from api.routers import privacy as privacy_router
from api.routers import providers as providers_router
from api.routers import repairs as repairs_router
from api.routers import series as series_router
from api.web import install_web
from booking.db import make_engine, make_session_factory
from booking.privacy.read_log import ReadLogBuffer, session_sink
from booking.settings import Settings, get_settings
from booking.users.token_cache import TokenCache


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """On shutdown, the read log writes the reads still waiting in memory."""
    yield
    buffer = getattr(app.state, "read_log", None)
    if isinstance(buffer, ReadLogBuffer):
        buffer.close()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    install_access_log_filter()
    app = FastAPI(
        title="Truchement",
        version=VERSION,
        summary="Scheduling of social interpreters and integration ambassadors.",
        openapi_url="/api/v1/openapi.json",
        # Served from the package by ``api.docs`` (FastAPI's own pages load from a CDN).
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    engine = make_engine(settings.database_url, **settings.pool_options)
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    # Who saw what: reads are queued here and written in batches (booking.privacy.read_log).
    app.state.read_log = ReadLogBuffer(session_sink(app.state.session_factory))
    # API tokens that worked a moment ago, so a call need not read its caller again.
    app.state.token_cache = TokenCache(settings.auth_cache_seconds)
    install_error_handlers(app)
    install_middleware(app, settings)
    app.include_router(health.router)
    app.include_router(me_router.router)
    app.include_router(organisations.router)
    app.include_router(sites.router)
    app.include_router(users.router)
    app.include_router(tokens.router)
    app.include_router(languages.router)
    app.include_router(metrics.router)
    app.include_router(notifications_router.router)
    app.include_router(providers_router.router)
    app.include_router(calendar_router.router)
    app.include_router(assignments_router.router)
    app.include_router(offers_router.router)
    app.include_router(plans_router.router)
    app.include_router(repairs_router.router)
    app.include_router(bookings_router.router)
    app.include_router(series_router.router)
    app.include_router(privacy_router.router)
    install_docs(app)
    install_web(app)
    return app
