"""The Docker image (nothing builds it here): its settings exist, and it writes only in /data."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from booking.settings import Settings
from notify.settings import NotifySettings

DOCKERFILE = Path(__file__).resolve().parents[1] / "Dockerfile"


def runtime_env() -> dict[str, str]:
    """The ``ENV`` of the runtime stage (continuation lines joined)."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    stage = text[text.index("AS runtime") :]
    env: dict[str, str] = {}
    for line in stage.splitlines():
        if line.startswith("ENV "):
            env.update(item.split("=", 1) for item in shlex.split(line[4:]))
    return env


def test_every_setting_the_image_sets_is_one_the_service_reads() -> None:
    fields = {
        f"TRUCHEMENT_{name.upper()}"
        for model in (Settings, NotifySettings)
        for name in model.model_fields
    }
    fields.add("TRUCHEMENT_MIGRATIONS_DIR")
    named = {name for name in runtime_env() if name.startswith("TRUCHEMENT_")}
    assert named <= fields


def test_the_image_keeps_its_database_and_file_outbox_in_the_volume_its_user_owns() -> None:
    env = runtime_env()
    text = DOCKERFILE.read_text()
    assert env["TRUCHEMENT_ENVIRONMENT"] == "production"
    assert env["TRUCHEMENT_DATABASE_URL"] == "sqlite:////data/truchement.sqlite3"
    assert env["TRUCHEMENT_OUTBOX_DIR"].startswith("/data/")
    assert 'VOLUME ["/data"]' in text
    assert re.search(r"chown -R truchement:truchement /data\b", text)
    assert "USER truchement" in text
