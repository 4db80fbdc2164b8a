"""Providers' own contact details, an organisation's language, phone confirmations.

A provider gets their own email, mobile number (E.164), message language and
channel preference (``both``, ``email``, ``sms``), so messages reach them
with or without a sign-in. What exists moves: a linked login's email and
language are copied onto the provider, and its mobile number moves there (the
login keeps no second copy). A provider without a login writes in their
organisation's language, which is taken from the language most of its people
use. Outbox messages remember the provider they went to; assignments whether
the dispatcher confirmed them by phone.

Revision ID: c21a_provider_contact
Revises: c11a_held_work_overlap
Create Date: 2026-12-05

"""

from collections import Counter
from collections.abc import Sequence

import phonenumbers
import sqlalchemy as sa
from alembic import op

revision: str = "c21a_provider_contact"
down_revision: str | Sequence[str] | None = "c11a_held_work_overlap"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOCALES = ("fr", "nl", "en")
MOBILE_TYPES = (
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    phonenumbers.PhoneNumberType.PERSONAL_NUMBER,
)

organisation = sa.table(
    "organisation",
    sa.column("id", sa.Integer),
    sa.column("country", sa.String),
    sa.column("locale", sa.String),
)
user = sa.table(
    "user",
    sa.column("id", sa.Integer),
    sa.column("organisation_id", sa.Integer),
    sa.column("email", sa.String),
    sa.column("locale", sa.String),
    sa.column("phone_e164", sa.String),
)
provider = sa.table(
    "provider",
    sa.column("id", sa.Integer),
    sa.column("organisation_id", sa.Integer),
    sa.column("user_id", sa.Integer),
    sa.column("email", sa.String),
    sa.column("phone_e164", sa.String),
    sa.column("locale", sa.String),
)


def _is_mobile(e164: str | None) -> bool:
    """Only a number an SMS can reach moves to the provider; a landline stays on the login."""
    if not e164:
        return False
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) in (
        MOBILE_TYPES
    )


def upgrade() -> None:
    """Add the columns, then move the contact details that exist."""
    with op.batch_alter_table("assignment", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("confirmed_by_phone", sa.Boolean(), server_default=sa.false(), nullable=False)
        )

    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("locale", sa.String(length=2), server_default="fr", nullable=False)
        )
        batch_op.create_check_constraint("locale", "locale IN ('fr', 'nl', 'en')")

    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recipient_provider_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_outbox_message_recipient_provider_id"),
            ["recipient_provider_id"],
            unique=False,
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_outbox_message_recipient_provider_id_provider"),
            "provider",
            ["recipient_provider_id"],
            ["id"],
            ondelete="SET NULL",
        )

    with op.batch_alter_table("provider", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email", sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column("phone_e164", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column("locale", sa.String(length=2), server_default="fr", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "message_channels", sa.String(length=8), server_default="both", nullable=False
            )
        )
        batch_op.create_check_constraint("locale", "locale IN ('fr', 'nl', 'en')")
        batch_op.create_check_constraint(
            "message_channels", "message_channels IN ('both', 'email', 'sms')"
        )
        batch_op.create_check_constraint(
            "email_lower_case", "email IS NULL OR email = lower(email)"
        )
        batch_op.create_check_constraint(
            "phone_e164",
            "phone_e164 IS NULL OR (phone_e164 LIKE '+%%' AND length(phone_e164) BETWEEN 8 AND 16)",
        )

    _move_contacts()


def _move_contacts() -> None:
    bind = op.get_bind()
    # An organisation writes in the language most of its people read (French on a tie).
    spoken: dict[int, Counter[str]] = {}
    for organisation_id, locale in bind.execute(sa.select(user.c.organisation_id, user.c.locale)):
        if locale in LOCALES:
            spoken.setdefault(organisation_id, Counter())[locale] += 1
    locales: dict[int, str] = {}
    for (organisation_id,) in bind.execute(sa.select(organisation.c.id)):
        counts = spoken.get(organisation_id)
        locale = "fr"
        if counts:
            best = max(counts.values())
            locale = next(code for code in LOCALES if counts[code] == best)
        locales[organisation_id] = locale
        bind.execute(
            organisation.update().where(organisation.c.id == organisation_id).values(locale=locale)
        )
    rows = bind.execute(
        sa.select(
            provider.c.id,
            provider.c.organisation_id,
            user.c.id,
            user.c.email,
            user.c.locale,
            user.c.phone_e164,
        ).select_from(provider.outerjoin(user, user.c.id == provider.c.user_id))
    ).all()
    for provider_id, organisation_id, user_id, email, locale, phone in rows:
        values: dict[str, str | None] = {"locale": locales.get(organisation_id, "fr")}
        if user_id is not None:
            values["email"] = email
            if locale in LOCALES:
                values["locale"] = locale
            if _is_mobile(phone):
                values["phone_e164"] = phone
                bind.execute(user.update().where(user.c.id == user_id).values(phone_e164=None))
        bind.execute(provider.update().where(provider.c.id == provider_id).values(**values))


def downgrade() -> None:
    """Give a login its mobile number back, then drop the columns."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(provider.c.user_id, provider.c.phone_e164).where(
            provider.c.user_id.is_not(None), provider.c.phone_e164.is_not(None)
        )
    ).all()
    for user_id, phone in rows:
        bind.execute(
            user.update()
            .where(user.c.id == user_id, user.c.phone_e164.is_(None))
            .values(phone_e164=phone)
        )

    with op.batch_alter_table("provider", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_provider_phone_e164"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_provider_email_lower_case"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_provider_message_channels"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_provider_locale"), type_="check")
        batch_op.drop_column("message_channels")
        batch_op.drop_column("locale")
        batch_op.drop_column("phone_e164")
        batch_op.drop_column("email")

    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_outbox_message_recipient_provider_id_provider"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_outbox_message_recipient_provider_id"))
        batch_op.drop_column("recipient_provider_id")

    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_organisation_locale"), type_="check")
        batch_op.drop_column("locale")

    with op.batch_alter_table("assignment", schema=None) as batch_op:
        batch_op.drop_column("confirmed_by_phone")
