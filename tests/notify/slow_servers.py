"""Servers that answer slowly: an SMTP server (aiosmtpd) and a Twilio-style SMS gateway.

Each answers every step after ``Pace.step`` seconds, a pace a test can change
while the server runs (slow first, then healthy again). They record what
reached them and when, as a real server would have stored it.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope
from aiosmtpd.smtp import Session as SmtpSession

from tests.notify.conftest import free_port


@dataclass
class Pace:
    """How slowly a server answers: ``step`` before each reply (an SMTP reply, a piece of
    an HTTP response); ``after_data`` more before the SMTP reply to a message it has
    already stored (the answer that gets lost when a connection drops); ``quit`` more
    before the answer to QUIT."""

    step: float = 0.0
    after_data: float = 0.0
    quit: float = 0.0


@dataclass
class Received:
    """One message as it reached a server: when (``time.monotonic()``) and what."""

    at: float
    message: EmailMessage


class _SlowSMTP(SMTP):
    def __init__(self, handler: Any, pace: Pace, sessions: list[float], **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.pace = pace
        self.sessions = sessions

    def connection_made(self, transport: Any) -> None:
        self.sessions.append(time.monotonic())
        super().connection_made(transport)

    async def push(self, status: Any) -> None:
        text = status if isinstance(status, str) else status.decode()
        if text[3:4] != "-":  # the last line of a reply (EHLO's come in several)
            await asyncio.sleep(self.pace.step + (self.pace.quit if text[:3] == "221" else 0))
        await super().push(status)


class _StoringHandler:
    def __init__(self, server: SlowSmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: Envelope) -> str:
        parsed = message_from_bytes(envelope.original_content or b"", policy=policy.default)
        with self.server.lock:
            self.server.received.append(Received(time.monotonic(), parsed))  # type: ignore[arg-type]
        await asyncio.sleep(self.server.pace.after_data)
        return "250 OK"


class SlowSmtpServer:
    """An SMTP server in a thread answering at ``pace``."""

    def __init__(self) -> None:
        self.pace = Pace()
        self.received: list[Received] = []
        self.sessions: list[float] = []
        self.lock = threading.Lock()
        self.port = free_port()
        server = self

        class _Controller(Controller):
            def factory(self) -> SMTP:
                return _SlowSMTP(self.handler, server.pace, server.sessions, **self.SMTP_kwargs)

        self.controller = _Controller(_StoringHandler(self), hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self.controller.start()
        self.sessions.clear()  # the controller's own check that the server is up

    def stop(self) -> None:
        self.controller.stop()

    def message_ids(self) -> list[str]:
        with self.lock:
            return [str(r.message["Message-ID"]) for r in self.received]


@dataclass
class GatewayRequest:
    at: float
    key: str | None
    to: str
    body: str


@dataclass
class SlowSmsGateway:
    """A Twilio-style gateway (``POST .../Messages.json``) in a thread, answering at ``pace``.

    Like gateways that honour idempotency keys, it texts the phone once per
    ``Idempotency-Key`` (``texted``), however often it is asked; ``requests``
    keeps every request. ``body_pieces`` splits the JSON answer to trickle it.
    """

    pace: Pace = field(default_factory=Pace)
    body_pieces: int = 2
    requests: list[GatewayRequest] = field(default_factory=list)
    texted: Counter[str | None] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _GatewayHandler)
        self.httpd.daemon_threads = True
        self.httpd.gateway = self  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def record(self, request: GatewayRequest) -> int:
        with self.lock:
            self.requests.append(request)
            if request.key is None or request.key not in self.texted:
                self.texted[request.key] += 1
            return len(self.requests)


class _GatewayHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        gateway: SlowSmsGateway = self.server.gateway  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode())
        number = gateway.record(
            GatewayRequest(
                at=time.monotonic(),
                key=self.headers.get("Idempotency-Key"),
                to=form["To"][0],
                body=form["Body"][0],
            )
        )
        body = json.dumps({"sid": f"SM{number:032d}", "status": "queued"}).encode()
        size = -(-len(body) // gateway.body_pieces)
        pieces = [
            b"HTTP/1.1 201 Created\r\n",
            b"Content-Type: application/json\r\n",
            f"Content-Length: {len(body)}\r\n".encode(),
            b"Connection: close\r\n\r\n",
            *(body[i : i + size] for i in range(0, len(body), size)),
        ]
        self.close_connection = True
        try:
            for piece in pieces:
                time.sleep(gateway.pace.step)
                self.wfile.write(piece)
        except OSError:
            pass  # the client gave up: the gateway has the SMS all the same

    def log_message(self, format: str, *args: Any) -> None:
        pass


class TricklingSmtpServer:
    """A server that sends its greeting one byte at a time, each well inside any timeout."""

    def __init__(self, *, every: float) -> None:
        self.every = every
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            connection, _ = self.listener.accept()
        except OSError:
            return
        with connection:
            try:
                for byte in b"220 trickle.example.org ESMTP ready, slowly\r\n":
                    time.sleep(self.every)
                    connection.sendall(bytes([byte]))
            except OSError:
                return

    def close(self) -> None:
        self.listener.close()
