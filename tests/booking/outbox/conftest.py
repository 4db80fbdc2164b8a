"""The outbox's tests enqueue with the test settings of ``notify_env`` (the root conftest)."""

from __future__ import annotations

import pytest

from notify.settings import NotifySettings


@pytest.fixture(autouse=True)
def messages_env(notify_env: NotifySettings) -> NotifySettings:
    """SMS on (file gateway), the default offsets and quiet hours, a known base address."""
    return notify_env
