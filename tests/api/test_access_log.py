"""Security review, finding 7: feed tokens must not reach the access log.

A real uvicorn server (in a thread) serves the app; its access log lines,
as written, name the path without the query string.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from api.access_log import QueryStringFilter
from api.app import create_app
from booking.settings import Settings


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def server(settings: Settings, engine: object) -> Iterator[str]:
    """The app behind a real uvicorn server on a free local port; its base URL."""
    port = _free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_config=None, access_log=True
    )
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not running.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running.started, "the server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        running.should_exit = True
        thread.join(timeout=10)


def test_the_access_log_names_the_feed_path_without_its_token(
    server: str, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "cal_NOT-FOR-THE-LOGS-8d1f2c"
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        answer = httpx.get(f"{server}/api/v1/providers/1/calendar.ics", params={"token": secret})
        assert answer.status_code == 404
        httpx.get(f"{server}/health?probe=1")
        time.sleep(0.2)
    lines = [r.getMessage() for r in caplog.records if r.name == "uvicorn.access"]
    assert any('"GET /api/v1/providers/1/calendar.ics HTTP/1.1" 404' in line for line in lines)
    assert any('"GET /health HTTP/1.1" 200' in line for line in lines)
    assert not any(secret in line or "token=" in line or "?" in line for line in lines)


def test_the_filter_leaves_other_records_alone() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s", ("a?b",), None)
    assert QueryStringFilter().filter(record) and record.args == ("a?b",)
    plain = logging.LogRecord("x", logging.INFO, __file__, 1, "no args", None, None)
    assert QueryStringFilter().filter(plain) and plain.getMessage() == "no args"
