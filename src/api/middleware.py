"""What every request goes through before a router sees it: body size, write rate, load,
metrics.

Plain ASGI middleware (no ``BaseHTTPMiddleware``), so streaming and
exceptions behave as without it.

- ``BodyLimitMiddleware``: a body over ``settings.max_body_bytes`` is a 413
  problem, whether it announces itself in ``Content-Length`` or streams in
  without one (chunked) or lies about its length.
- ``WriteRateLimitMiddleware``: at most ``settings.write_rate_per_minute``
  writes (POST, PUT, PATCH, DELETE) per sliding minute per caller, else a
  429 problem with ``Retry-After``. The caller is the API token (its hash)
  once that token has been seen to work, otherwise the client address, so
  random made-up tokens cannot buy fresh allowances. The counters live in
  the memory of one process: with N API workers a caller may make up to N
  times the limit, and a restart forgets them. That is enough to stop a
  runaway integration script, which is the point; it is not an
  abuse-proof quota (put one in the reverse proxy for that).
- ``LoadShedMiddleware``: at most ``settings.max_concurrent_requests``
  requests in progress in this process; the next one is answered at once
  with a 503 problem and ``Retry-After`` rather than queued behind the
  others (a queue only makes every request late, then all of them fail).
  So is a request that reaches a process whose event loop is more than
  ``settings.shed_lag_ms`` late (it has waited that long at the door).
  ``/health`` and ``/ready`` are never refused: a busy process is alive.
  Keep the limit at or under the thread pool (40) and the database pool
  (``db_pool_size + db_max_overflow``), so a request admitted never waits
  for a thread or a connection.
- ``MetricsMiddleware``: counts requests by method, route template and
  status, and their latency, for ``GET /metrics``. Per process too. Every
  answer says how long the process took in ``Server-Timing: app;dur=<ms>``.
- ``SecurityHeadersMiddleware``: every answer says ``X-Content-Type-Options:
  nosniff`` and, unless it chose its own caching, ``Cache-Control:
  no-store`` (the API carries personal data; static files are the
  exception); ``Strict-Transport-Security`` when the service is served over
  HTTPS.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import localised_error, request_locale
from booking.settings import Settings
from booking.users.tokens import hash_token

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
WINDOW_SECONDS = 60.0
MAX_TRACKED_CALLERS = 10_000
"""Beyond this many distinct callers in memory the least recently seen are forgotten."""
LATENCY_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0
)  # fmt: skip
"""Seconds, from 5 ms; the upper ones catch an overloaded service's slowest answers."""
UNMATCHED_ROUTE = "<unmatched>"
"""The route label of requests no route matched, so probing cannot flood the label space."""


@dataclass
class Histogram:
    """Counts per bucket (not cumulative), their sum and total."""

    buckets: list[int] = field(default_factory=lambda: [0] * len(LATENCY_BUCKETS))
    total: float = 0.0
    count: int = 0


class Registry:
    """The request counters and latency histograms of one process (one app)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, int], int] = {}
        self._latency: dict[tuple[str, str], Histogram] = {}

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            key = (method, route, status)
            self._requests[key] = self._requests.get(key, 0) + 1
            histogram = self._latency.setdefault((method, route), Histogram())
            for index, bound in enumerate(LATENCY_BUCKETS):
                if seconds <= bound:
                    histogram.buckets[index] += 1
                    break
            histogram.total += seconds
            histogram.count += 1

    def snapshot(
        self,
    ) -> tuple[dict[tuple[str, str, int], int], dict[tuple[str, str], Histogram]]:
        """Copies of the counters, safe to read while requests go on."""
        with self._lock:
            latency = {
                key: Histogram(list(h.buckets), h.total, h.count)
                for key, h in self._latency.items()
            }
            return dict(self._requests), latency


class BodyTooLarge(HTTPException):
    """Raised while the body streams in, once it passes the limit (FastAPI re-raises it)."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"The request body is larger than {limit} bytes.")
        self.params = {"limit": limit}
        self.error_key = "body_too_large"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


async def _send_error(
    scope: Scope,
    receive: Receive,
    send: Send,
    status: int,
    key: str,
    *,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    locale = request_locale({"accept-language": _header(scope, b"accept-language") or ""})
    response = localised_error(locale, status, key, params=params, headers=headers)
    await response(scope, receive, send)


class BodyLimitMiddleware:
    """Refuse request bodies larger than ``max_bytes`` with a 413 problem."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None:
            try:
                too_large = int(declared) > self.max_bytes
            except ValueError:
                too_large = False  # the server rejects a malformed length itself
            if too_large:
                await _send_error(
                    scope, receive, send, 413, "body_too_large", params={"limit": self.max_bytes}
                )
                return
        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            # Read outside a route (a middleware or a raw endpoint): answer here.
            if response_started:
                raise
            await _send_error(
                scope, receive, send, 413, "body_too_large", params={"limit": self.max_bytes}
            )


class SlidingWindowLimiter:
    """At most ``limit`` events per ``window`` seconds per key, remembered in memory."""

    def __init__(
        self,
        limit: int,
        *,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_TRACKED_CALLERS,
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.max_keys = max_keys
        self._events: OrderedDict[str, deque[float]] = OrderedDict()

    def _events_of(self, key: str, now: float) -> deque[float]:
        events = self._events.get(key)
        if events is None:
            events = deque()
            self._events[key] = events
            while len(self._events) > self.max_keys:
                self._events.popitem(last=False)
        else:
            self._events.move_to_end(key)
        while events and events[0] <= now - self.window:
            events.popleft()
        return events

    def hit(self, *keys: str) -> float:
        """Count one event under every key: 0 if all allow it, else the seconds to wait.

        A refused event is counted under none of them.
        """
        now = self.clock()
        queues = [self._events_of(key, now) for key in keys]
        wait = max(
            (events[0] + self.window - now for events in queues if len(events) >= self.limit),
            default=0.0,
        )
        if wait > 0:
            return wait
        for events in queues:
            events.append(now)
        return 0.0


class WriteRateLimitMiddleware:
    """Refuse writes beyond ``per_minute`` a minute per caller with 429 and ``Retry-After``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        per_minute: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.per_minute = per_minute
        self.limiter = SlidingWindowLimiter(per_minute, clock=clock)
        self._working_tokens: OrderedDict[str, None] = OrderedDict()

    def _callers(self, scope: Scope) -> tuple[list[str], str | None]:
        """The keys to count under, and the hash of the token the request carries (if any).

        A token seen to work counts on its own; any other request counts
        against its client address (a new real token on both, once).
        """
        authorization = _header(scope, b"authorization") or ""
        scheme, _, token = authorization.partition(" ")
        token_hash = None
        keys = []
        if scheme.lower() == "bearer" and token.strip():
            token_hash = hash_token(token.strip())
            keys.append(f"token:{token_hash}")
            if token_hash in self._working_tokens:
                return keys, token_hash
        client = scope.get("client")
        keys.append(f"address:{client[0] if client else 'unknown'}")
        return keys, token_hash

    def _remember_working(self, token_hash: str) -> None:
        self._working_tokens[token_hash] = None
        self._working_tokens.move_to_end(token_hash)
        while len(self._working_tokens) > MAX_TRACKED_CALLERS:
            self._working_tokens.popitem(last=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITE_METHODS:
            await self.app(scope, receive, send)
            return
        keys, token_hash = self._callers(scope)
        wait = self.limiter.hit(*keys)
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            await _send_error(
                scope,
                receive,
                send,
                429,
                "rate_limited",
                params={"limit": self.per_minute, "retry_after": retry_after},
                headers={"Retry-After": str(retry_after)},
            )
            return

        async def noting_send(message: Message) -> None:
            if (
                token_hash is not None
                and message["type"] == "http.response.start"
                and message["status"] != 401
            ):
                self._remember_working(token_hash)
            await send(message)

        await self.app(scope, receive, noting_send)


PROBE_PATHS = frozenset({"/health", "/ready"})
"""Answered even past capacity: an orchestrator must not kill a process for being busy."""
SHED_RETRY_AFTER_SECONDS = 1


class LoadShedMiddleware:
    """Refuse, with 503 and ``Retry-After``, at once: a request beyond ``limit`` in
    progress, or one that reaches the process late (``max_lag``).

    A request's age at the door: an overloaded process is late before a
    request reaches any code of ours (the bytes wait in the socket, the
    parsed request in the event loop's queue), so the concurrency limit alone
    sees too little, too late. A watch task sleeps ``LAG_PROBE_SECONDS`` at a
    time and notes how late it wakes: the event loop's lag, which is how long
    a request that arrives now waits before it is looked at. While the loop is
    more than ``max_lag`` seconds late, new requests are refused (those already
    admitted finish), until it catches up. A lone request is never refused for
    lag (nothing is in progress: no load to shed). ``max_lag`` 0 turns it off.

    One event loop runs the process's requests, so the counters need no
    lock: nothing awaits between the check and the increment. The refusal is
    rendered once per language and replayed: refusing must cost far less
    than serving.
    """

    LAG_PROBE_SECONDS = 0.02

    def __init__(self, app: ASGIApp, *, limit: int, max_lag: float = 0.0) -> None:
        self.app = app
        self.limit = limit
        self.max_lag = max_lag
        self.in_progress = 0
        self.shed = 0
        self.shed_for_lag = 0
        self.lag = 0.0
        self._probe_due: float | None = None
        self._watch: asyncio.Task[None] | None = None
        self._refusals: dict[str, Response] = {}

    def current_lag(self, now: float) -> float:
        """How late the event loop is: the last probe's lateness, or the pending probe's."""
        if self._probe_due is None:
            return self.lag
        return max(self.lag, now - self._probe_due)

    async def _watch_lag(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._probe_due = loop.time() + self.LAG_PROBE_SECONDS
            await asyncio.sleep(self.LAG_PROBE_SECONDS)
            self.lag = max(0.0, loop.time() - self._probe_due)

    def _late(self) -> bool:
        if self.max_lag <= 0:
            return False
        loop = asyncio.get_running_loop()
        if self._watch is None or self._watch.done() or self._watch.get_loop() is not loop:
            self._probe_due, self.lag = None, 0.0
            self._watch = loop.create_task(self._watch_lag())
        return self.in_progress > 0 and self.current_lag(loop.time()) > self.max_lag

    def _refusal(self, scope: Scope) -> Response:
        locale = request_locale({"accept-language": _header(scope, b"accept-language") or ""})
        response = self._refusals.get(locale)
        if response is None:
            response = localised_error(
                locale,
                503,
                "overloaded",
                params={"retry_after": SHED_RETRY_AFTER_SECONDS},
                headers={"Retry-After": str(SHED_RETRY_AFTER_SECONDS)},
            )
            self._refusals[locale] = response
        return response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in PROBE_PATHS:
            await self.app(scope, receive, send)
            return
        full = self.in_progress >= self.limit
        if full or self._late():
            self.shed += 1
            self.shed_for_lag += not full
            await self._refusal(scope)(scope, receive, send)
            return
        self.in_progress += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_progress -= 1


class MetricsMiddleware:
    """Count every HTTP request and time it, labelled by its route template."""

    def __init__(self, app: ASGIApp, *, registry: Registry) -> None:
        self.app = app
        self.registry = registry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                # How long the process took, refusals included: a client (the load
                # benchmark) tells the time in the service from the time in front of it.
                took_ms = (time.perf_counter() - started) * 1000
                timing = (b"server-timing", f"app;dur={took_ms:.1f}".encode())
                message = {**message, "headers": [*message.get("headers", []), timing]}
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or UNMATCHED_ROUTE
            self.registry.observe_request(
                scope["method"], template, status, time.perf_counter() - started
            )


HSTS_VALUE = "max-age=31536000; includeSubDomains"
"""A year: once a browser has seen the service over HTTPS, it never tries plain HTTP."""
CACHEABLE_PREFIXES: tuple[str, ...] = ("/static/",)
"""Paths whose answers may be cached: the pages' stylesheet and script, nothing personal."""


class SecurityHeadersMiddleware:
    """Add the headers every answer needs, refusals and problems included."""

    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cacheable = str(scope.get("path", "")).startswith(CACHEABLE_PREFIXES)

        async def adding_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {key.lower() for key, _ in headers}
                if b"x-content-type-options" not in present:
                    headers.append((b"x-content-type-options", b"nosniff"))
                if not cacheable and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                if self.https and b"strict-transport-security" not in present:
                    headers.append((b"strict-transport-security", HSTS_VALUE.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, adding_send)


def install_middleware(app: FastAPI, settings: Settings) -> None:
    """Add the middleware, outermost last: metrics see everything, refusals included;
    the security headers go on every answer, the refusals of the others too.

    The request metrics are kept on ``app.state.metrics`` for ``GET /metrics``.
    """
    app.state.metrics = Registry()
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(WriteRateLimitMiddleware, per_minute=settings.write_rate_per_minute)
    app.add_middleware(
        LoadShedMiddleware,
        limit=settings.max_concurrent_requests,
        max_lag=settings.shed_lag_ms / 1000,
    )
    app.add_middleware(MetricsMiddleware, registry=app.state.metrics)
    app.add_middleware(
        SecurityHeadersMiddleware, https=settings.base_url.lower().startswith("https://")
    )
