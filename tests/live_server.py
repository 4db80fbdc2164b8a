"""The real server in a subprocess, on a fresh SQLite database with the demo data.

For the tests that go through HTTP as a person or a script would: the browser
tests and the API examples of docs/api.md.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from booking.db import make_engine, make_session_factory
from booking.demo import seed_demo_data
from booking.migrate import upgrade

ROOT = Path(__file__).resolve().parents[1]


DEMO_DATABASE = "demo.sqlite3"


def demo_database_url(folder: Path) -> str:
    """The database ``serve_demo(folder)`` serves: a command run beside it can use it too."""
    return f"sqlite:///{folder / DEMO_DATABASE}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serve_demo(folder: Path, **settings: str) -> Iterator[str]:
    """Uvicorn on a free port of 127.0.0.1, serving a new database in ``folder`` seeded with
    the demo; yields the base URL.

    ``settings`` are extra environment variables for the server; plans stop
    after 10 seconds unless ``TRUCHEMENT_PLAN_TIME_LIMIT_SECONDS`` says otherwise.
    The server is the one ``truchement serve`` runs: on SQLite it solves queued
    plans in a thread of its own.
    """
    url = demo_database_url(folder)
    upgrade(url)
    engine = make_engine(url)
    with make_session_factory(engine)() as db:
        seed_demo_data(db, seed=7)
        db.commit()
    engine.dispose()
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "TRUCHEMENT_DATABASE_URL": url,
        "TRUCHEMENT_ENVIRONMENT": "development",
        "TRUCHEMENT_BASE_URL": base_url,
        "TRUCHEMENT_PLAN_TIME_LIMIT_SECONDS": "10",
        **settings,
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "api.serving:create_served_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.2)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
