"""Browser tests: the real server in a subprocess, the demo data, headless Chromium.

Debian's ``/usr/bin/chromium`` is driven by Playwright (the Python package
only: its own browser downloads are never used). Without either, every test
here is skipped with the reason. Screenshots go to ``TRUCHEMENT_SCREENSHOT_DIR``
(default ``artifacts/screenshots/``).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from booking.db import make_engine, make_session_factory
from booking.demo import seed_demo_data
from booking.migrate import upgrade

ROOT = Path(__file__).resolve().parents[4]
CHROMIUM = os.environ.get("TRUCHEMENT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives headless Chromium (needs playwright)")


def _missing() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install playwright; never `playwright install`)"
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = _missing()
    if reason is None:
        return
    if os.environ.get("TRUCHEMENT_REQUIRE_BROWSER") == "1":
        raise pytest.UsageError(f"browser tests required but {reason}")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=reason))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    folder = Path(os.environ.get("TRUCHEMENT_SCREENSHOT_DIR", ROOT / "artifacts" / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextmanager
def serve_demo(folder: Path) -> Iterator[str]:
    """The app served by uvicorn on a free port, on a fresh SQLite database with the demo."""
    database = folder / "demo.sqlite3"
    url = f"sqlite:///{database}"
    upgrade(url)
    engine = make_engine(url)
    with make_session_factory(engine)() as db:
        seed_demo_data(db, seed=7)
        db.commit()
    engine.dispose()
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "TRUCHEMENT_DATABASE_URL": url,
        "TRUCHEMENT_ENVIRONMENT": "development",
        "TRUCHEMENT_BASE_URL": base_url,
        "TRUCHEMENT_PLAN_TIME_LIMIT_SECONDS": "10",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "api.app:create_app",
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


def demo_server(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[str]:
    """For a fixture: a demo server in a folder of its own, or the test skipped with why."""
    if _missing() is not None:
        pytest.skip(_missing() or "")
    with serve_demo(tmp_path_factory.mktemp(name)) as base_url:
        yield base_url


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The server of the browser story (shared by the tests of the session)."""
    yield from demo_server(tmp_path_factory, "browser")


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """One headless Chromium for the session (Debian's, launched by path)."""
    if _missing() is not None:
        pytest.skip(_missing() or "")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def copy_for_readme(source: Path, name: str) -> None:
    """Refresh a README screenshot in ``docs/screenshots`` when asked (TRUCHEMENT_UPDATE_DOCS=1)."""
    if os.environ.get("TRUCHEMENT_UPDATE_DOCS") == "1":
        target = ROOT / "docs" / "screenshots" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
