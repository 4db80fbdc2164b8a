"""The contact migration moves what exists: a login's address, mobile and language."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from tests.conftest import ROOT, alembic_config, migrate

REVISION = "c21a_provider_contact"
BEFORE = str(
    ScriptDirectory.from_config(Config(str(ROOT / "alembic.ini")))
    .get_revision(REVISION)
    .down_revision
)
"""Whatever revision comes just before this one, however the revisions are chained."""
NOW = "2026-12-01T09:00:00+00:00"


def _seed(engine: Engine) -> None:
    rows = [
        "INSERT INTO organisation (id, name, kind, country, region, timezone, created_at) VALUES "
        "(1, 'SéTIS wallon', 'providing', 'BE', 'Wallonia', 'Europe/Brussels', :now), "
        "(2, 'Sociaal Tolken', 'providing', 'BE', 'Flanders', 'Europe/Brussels', :now)",
        'INSERT INTO "user" (id, organisation_id, email, full_name, role, locale, phone_e164, '
        "is_active, created_at) VALUES "
        "(1, 1, 'selam@example.org', 'Selam', 'provider', 'en', '+32470123456', true, :now), "
        "(2, 1, 'luc@example.org', 'Luc', 'dispatcher', 'fr', '+3265000000', true, :now), "
        "(3, 2, 'an@example.org', 'An', 'dispatcher', 'nl', NULL, true, :now), "
        "(4, 2, 'joris@example.org', 'Joris', 'dispatcher', 'nl', NULL, true, :now), "
        "(5, 1, 'awet@example.org', 'Awet', 'provider', 'fr', '+3269221111', true, :now)",
    ]
    providers = [(1, 1, 1), (2, 1, None), (3, 2, None), (4, 1, 5)]
    with engine.begin() as connection:
        for statement in rows:
            connection.execute(text(statement), {"now": NOW})
        for provider_id, organisation_id, user_id in providers:
            connection.execute(
                text(
                    "INSERT INTO provider (id, organisation_id, user_id, display_name, kind, "
                    "skills, modalities, home_lat, home_lon, home_town, countries, "
                    "max_travel_minutes, max_minutes_per_day, max_minutes_per_week, "
                    "works_on_holidays, is_active, created_at) VALUES (:id, :org, :user, "
                    "'P', 'interpreter', '[]', '[]', 50.6, 3.4, 'Tournai', '[]', 90, 420, 1800, "
                    "false, true, :now)"
                ),
                {"id": provider_id, "org": organisation_id, "user": user_id, "now": NOW},
            )


def _provider(engine: Engine, provider_id: int) -> tuple[object, ...]:
    with engine.connect() as connection:
        row = connection.execute(
            text("SELECT email, phone_e164, locale, message_channels FROM provider WHERE id = :id"),
            {"id": provider_id},
        ).one()
    return tuple(row)


def _user_phone(engine: Engine, user_id: int) -> object:
    with engine.connect() as connection:
        return connection.execute(
            text('SELECT phone_e164 FROM "user" WHERE id = :id'), {"id": user_id}
        ).scalar()


def test_the_migration_moves_a_login_s_contact_to_its_provider(scratch_engine: Engine) -> None:
    migrate(scratch_engine, BEFORE)
    _seed(scratch_engine)
    migrate(scratch_engine, "head")
    # The login's address, mobile and language; the mobile moves (no second copy).
    assert _provider(scratch_engine, 1) == ("selam@example.org", "+32470123456", "en", "both")
    assert _user_phone(scratch_engine, 1) is None
    # A provider without a login writes in their organisation's language, which is the one
    # most of its people read.
    assert _provider(scratch_engine, 2) == (None, None, "fr", "both")
    assert _provider(scratch_engine, 3) == (None, None, "nl", "both")
    with scratch_engine.connect() as connection:
        locales = dict(connection.execute(text("SELECT id, locale FROM organisation")).all())
    assert locales == {1: "fr", 2: "nl"}
    # A landline on a login is no use for SMS: it stays where it was.
    assert _provider(scratch_engine, 4) == ("awet@example.org", None, "fr", "both")
    assert _user_phone(scratch_engine, 5) == "+3269221111"
    # A dispatcher's own number is not touched.
    assert _user_phone(scratch_engine, 2) == "+3265000000"


def test_the_downgrade_gives_the_login_its_mobile_back(scratch_engine: Engine) -> None:
    migrate(scratch_engine, BEFORE)
    _seed(scratch_engine)
    migrate(scratch_engine, "head")
    with scratch_engine.connect() as connection:
        command.downgrade(alembic_config(connection), BEFORE)
    with scratch_engine.connect() as connection:
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert version == BEFORE
    assert _user_phone(scratch_engine, 1) == "+32470123456"
    assert _user_phone(scratch_engine, 5) == "+3269221111"
