"""Privacy: the read log, retention periods, subject requests (see docs/privacy.md).

Exports answer JSON as an attachment (``Content-Disposition``), never cached.

Nothing here edits the read log: it has no update or delete endpoint.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from api.auth import AdminUser, CurrentUser
from api.deps import DbSession
from api.reads import read_log_of
from api.schemas.common import (
    MAX_ID,
    IdPath,
    Instant,
    Page,
    PageQuery,
    error_responses,
    paginate,
)
from api.schemas.privacy import (
    ReadLogOut,
    RetentionBookingOut,
    RetentionIn,
    RetentionOut,
    RetentionPreviewOut,
    SubjectErasedOut,
    SubjectIn,
)
from booking.errors import NotFound
from booking.organisations.models import Organisation
from booking.privacy import retention, subject
from booking.privacy.models import ReadLog, ReadSubject
from booking.privacy.read_log import read_log_query_for, write_rows
from booking.providers.service import get_visible_provider, sees_private_data
from booking.types import utc_now
from booking.vocabulary import UserRole

router = APIRouter(prefix="/api/v1/privacy", tags=["privacy"])


@router.get(
    "/read-log",
    summary="Who read what (admin; a dispatcher for their service's data)",
    response_model=Page[ReadLogOut],
    responses=error_responses(401, 403, 422),
)
def list_reads(
    request: Request,
    db: DbSession,
    user: CurrentUser,
    page: PageQuery,
    subject_type: Annotated[ReadSubject | None, Query(description="What was read.")] = None,
    subject_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    organisation_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Whose data: the subject's organisation.")
    ] = None,
    reader_user_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    since: Annotated[Instant | None, Query(description="Reads at or after this instant.")] = None,
    until: Annotated[Instant | None, Query(description="Reads before this instant.")] = None,
) -> Page[ReadLogOut]:
    """Newest first. An admin reads every row; a dispatcher the reads of their own
    service's data and those its people made; anyone else gets 403. Reads reach the
    log within about a second (they are written in batches)."""
    query = read_log_query_for(user)
    buffer = read_log_of(request)
    if buffer is not None:  # what is still waiting is written now, in this transaction
        write_rows(db, buffer.drain())
    if subject_type is not None:
        query = query.where(ReadLog.subject_type == subject_type)
    if subject_id is not None:
        query = query.where(ReadLog.subject_id == subject_id)
    if organisation_id is not None:
        query = query.where(ReadLog.subject_organisation_id == organisation_id)
    if reader_user_id is not None:
        query = query.where(ReadLog.reader_user_id == reader_user_id)
    if since is not None:
        query = query.where(ReadLog.at >= since)
    if until is not None:
        query = query.where(ReadLog.at < until)
    return paginate(db, query, page, order_by=(ReadLog.id.desc(),), item=ReadLogOut)


@router.get(
    "/retention/preview",
    summary="What the next retention run would erase (admin)",
    response_model=RetentionPreviewOut,
    responses=error_responses(401, 403),
)
def preview_retention(db: DbSession, admin: AdminUser) -> RetentionPreviewOut:
    """The dry run of the nightly job, as of now: changes nothing."""
    plan = retention.retention_plan(db, now=utc_now())
    return RetentionPreviewOut(
        now=plan.now,
        bookings=[
            RetentionBookingOut(
                id=b.id,
                reference=b.reference,
                organisation_id=b.organisation_id,
                starts_at=b.starts_at,
                fields=list(b.fields),
            )
            for b in plan.bookings
        ],
        notifications=len(plan.notification_ids),
        read_log_rows=plan.read_log_rows,
    )


@router.get(
    "/retention/{organisation_id}",
    summary="An organisation's retention period (admin)",
    response_model=RetentionOut,
    responses=error_responses(401, 403, 404, 422),
)
def read_retention(db: DbSession, admin: AdminUser, organisation_id: IdPath) -> RetentionOut:
    """12 months unless the organisation set its own."""
    if db.get(Organisation, organisation_id) is None:
        raise NotFound(entity="organisation", entity_id=organisation_id)
    return RetentionOut(
        organisation_id=organisation_id,
        months=retention.retention_months_of(db, organisation_id),
    )


@router.put(
    "/retention/{organisation_id}",
    summary="Set an organisation's retention period (admin)",
    response_model=RetentionOut,
    responses=error_responses(401, 403, 404, 413, 422, 429),
)
def set_retention(
    db: DbSession, admin: AdminUser, organisation_id: IdPath, body: RetentionIn
) -> RetentionOut:
    """1 to 120 months after each session; audited; the next nightly run applies it."""
    policy = retention.set_retention_months(
        db, actor=admin, organisation_id=organisation_id, months=body.months
    )
    return RetentionOut(organisation_id=organisation_id, months=policy.months)


def _download(document: dict[str, Any], name: str) -> JSONResponse:
    return JSONResponse(
        document,
        headers={
            "Content-Disposition": f'attachment; filename="{name}.json"',
            "Cache-Control": "no-store",
        },
    )


EXPORT: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {"schema": {"type": "object"}}}}
}


@router.post(
    "/beneficiaries/export",
    summary="Everything held under one beneficiary reference (admin)",
    response_class=JSONResponse,
    responses={**EXPORT, **error_responses(401, 403, 404, 413, 422, 429)},
)
def export_beneficiary(db: DbSession, admin: AdminUser, body: SubjectIn) -> JSONResponse:
    """The bookings of that organisation under that reference, with their preferences,
    assignments, notifications (who was told, when), audit trail and read log. Audited
    (the trail names the bookings, not the reference). 404 when no booking holds it."""
    document = subject.beneficiary_export(
        db, actor=admin, organisation_id=body.organisation_id, reference=body.beneficiary_ref
    )
    return _download(document, f"beneficiary-{body.organisation_id}")


@router.post(
    "/beneficiaries/erase",
    summary="Erase a beneficiary's data: their bookings are anonymised, not deleted (admin)",
    response_model=SubjectErasedOut,
    responses=error_responses(401, 403, 404, 413, 422, 429),
)
def erase_beneficiary(db: DbSession, admin: AdminUser, body: SubjectIn) -> SubjectErasedOut:
    """The reference, notes, free text, address and preferences of each booking go, and the
    same values in their audit trail; language, kind, dates, minutes, organisation and who
    did the work stay, so statistics and providers' records remain true. Audited."""
    ids = subject.erase_beneficiary(
        db, actor=admin, organisation_id=body.organisation_id, reference=body.beneficiary_ref
    )
    return SubjectErasedOut(organisation_id=body.organisation_id, bookings=ids)


@router.get(
    "/providers/{provider_id}/export",
    summary="A provider's own data (the provider themself, or an admin)",
    response_class=JSONResponse,
    responses={**EXPORT, **error_responses(401, 404, 422)},
)
def export_provider(db: DbSession, user: CurrentUser, provider_id: IdPath) -> JSONResponse:
    """Their record, languages, availability, work (without beneficiary data), the messages
    sent to them, their audit trail and who read their personal data. Audited. Anyone else
    gets 404, as for any record out of scope."""
    provider = get_visible_provider(db, user, provider_id)
    allowed = user.role == UserRole.ADMIN or (
        user.role == UserRole.PROVIDER and sees_private_data(user, provider)
    )
    if not allowed:
        raise NotFound(entity="provider", entity_id=provider_id)
    document = subject.provider_export(db, actor=user, provider=provider)
    return _download(document, f"provider-{provider.id}")
