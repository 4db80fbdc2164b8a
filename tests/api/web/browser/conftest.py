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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.live_server import ROOT, serve_demo

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


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    folder = Path(os.environ.get("TRUCHEMENT_SCREENSHOT_DIR", ROOT / "artifacts" / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


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
