"""One overall deadline per delivery, however many network steps the send takes.

A socket timeout bounds one step (a connect, one read, one write). A server
that answers every step just inside its timeout can hold an SMTP send (ten
steps or so) or an HTTP call (headers, then the body in pieces) for minutes:
longer than the worker's lease on the message, after which another worker
takes the row and sends the message again while the first is still sending.

So the worker opens a ``Deadline`` when it claims a message (``within``), well
inside the lease, and the transports cut every socket operation to the time
left (``step_timeout``): the SMTP transport through its socket, the SMS
gateways through ``http_client``, whose transport does the same for each
connect, read and write of httpx. When no time is left the step is not even
tried (``DeadlinePassed``), the send fails, and the message is retried later.
Outside ``within`` (a transport used on its own) only the step timeouts apply.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx


class DeadlinePassed(TimeoutError):
    """The delivery's deadline passed: the next network step is not attempted."""


@dataclass(frozen=True, slots=True)
class Deadline:
    """``seconds`` granted to one delivery, ending at ``expires_at`` (``time.monotonic()``)."""

    seconds: float
    expires_at: float

    @classmethod
    def starting(cls, seconds: float, *, at: float | None = None) -> Deadline:
        """A deadline ``seconds`` after ``at`` (a ``time.monotonic()`` reading; default now)."""
        return cls(seconds, (time.monotonic() if at is None else at) + seconds)

    def remaining(self) -> float:
        return self.expires_at - time.monotonic()

    def passed(self) -> bool:
        return self.remaining() <= 0

    def describe(self) -> str:
        return f"the {self.seconds:g} s deadline of this delivery passed"


_current: ContextVar[Deadline | None] = ContextVar("truchement_delivery_deadline", default=None)


@contextmanager
def within(deadline: Deadline) -> Iterator[Deadline]:
    """Every network step of the transports inside the block ends by ``deadline``."""
    token = _current.set(deadline)
    try:
        yield deadline
    finally:
        _current.reset(token)


def current_deadline() -> Deadline | None:
    """The deadline of the delivery in progress, for an SMS gateway of one's own."""
    return _current.get()


def step_timeout(timeout: float | None) -> float | None:
    """``timeout`` for the next network step, cut to the time left; ``DeadlinePassed`` if none."""
    deadline = _current.get()
    if deadline is None:
        return timeout
    left = deadline.remaining()
    if left <= 0:
        raise DeadlinePassed(deadline.describe())
    return left if timeout is None else min(timeout, left)


def ensure_time_left() -> None:
    """Raise ``DeadlinePassed`` before starting a send that could not end in time."""
    step_timeout(None)


def deadline_note() -> str:
    """``"; the 60 s deadline of this delivery passed"`` when it has, for error messages:
    a timeout then comes from the deadline, not from a single slow step."""
    deadline = _current.get()
    return f"; {deadline.describe()}" if deadline is not None and deadline.passed() else ""


class _BoundedStream(httpcore.NetworkStream):
    """A connection whose every read, write and TLS handshake ends by the deadline."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, step_timeout(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, step_timeout(timeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return _BoundedStream(
            self._stream.start_tls(ssl_context, server_hostname, step_timeout(timeout))
        )

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _BoundedBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._backend.connect_tcp(
            host, port, step_timeout(timeout), local_address, socket_options
        )
        return _BoundedStream(stream)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._backend.connect_unix_socket(path, step_timeout(timeout), socket_options)
        return _BoundedStream(stream)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def _as_httpx_error(exc: Exception, request: httpx.Request) -> httpx.TransportError:
    """httpcore's exceptions under httpx's names (``ReadTimeout``, ``ConnectError``...)."""
    if isinstance(exc, DeadlinePassed):
        return httpx.TimeoutException(str(exc), request=request)
    for kind in type(exc).__mro__:
        mapped = getattr(httpx, kind.__name__, None)
        if isinstance(mapped, type) and issubclass(mapped, httpx.TransportError):
            return mapped(str(exc), request=request)
    return httpx.TransportError(str(exc), request=request)


class DeadlineTransport(httpx.BaseTransport):
    """An httpx transport that ends every request by the current delivery's deadline.

    httpx's own timeouts apply to each operation; this transport cuts each
    one to the time left as well. It reads the whole response before
    returning (gateway answers are small), so the deadline covers the body
    too. Proxies come from ``HTTP_PROXY``/``HTTPS_PROXY``/``NO_PROXY``, as
    httpx's default transport would take them.
    """

    def __init__(self, *, trust_env: bool = True) -> None:
        self._trust_env = trust_env
        self._ssl_context = httpx.create_ssl_context(trust_env=trust_env)
        self._backend = _BoundedBackend()
        self._direct = httpcore.ConnectionPool(
            ssl_context=self._ssl_context, network_backend=self._backend
        )
        self._proxies: dict[str, httpcore.HTTPProxy] = {}

    def _pool_for(self, url: httpx.URL) -> httpcore.ConnectionPool:
        if not self._trust_env:
            return self._direct
        proxy = urllib.request.getproxies_environment().get(url.scheme)
        # CPython has it on every platform; typeshed leaves it out.
        bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
        if not proxy or bypass(url.host):
            return self._direct
        if proxy not in self._proxies:
            settings = httpx.Proxy(proxy if "://" in proxy else f"http://{proxy}")
            self._proxies[proxy] = httpcore.HTTPProxy(
                proxy_url=str(settings.url),
                proxy_auth=settings.raw_auth,
                ssl_context=self._ssl_context,
                network_backend=self._backend,
            )
        return self._proxies[proxy]

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            response = self._pool_for(request.url).handle_request(core_request)
            try:
                content = response.read()
            finally:
                response.close()
        except Exception as exc:
            if isinstance(exc, DeadlinePassed) or type(exc).__module__.startswith("httpcore"):
                raise _as_httpx_error(exc, request) from exc
            raise
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            content=content,
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._direct.close()
        for pool in self._proxies.values():
            pool.close()


def http_client(*, timeout: float) -> httpx.Client:
    """An httpx client for an SMS gateway: ``timeout`` per operation, and the whole request
    ends by the deadline of the delivery in progress (see ``within``)."""
    return httpx.Client(timeout=timeout, transport=DeadlineTransport())
