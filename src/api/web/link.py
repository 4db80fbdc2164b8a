"""The signed page of a provider without a sign-in: one session, or one offer to answer.

Messages to a provider who cannot sign in carry ``/l/<token>`` links
(``booking.providers.links``). The page shows that one assignment and
nothing else: when and where, the language and kind of session, who asked;
never the beneficiary's reference nor the notes, which stay behind a
sign-in. An offer's page has Accept and Decline buttons, forms with a CSRF
token like every other; they go through the assignment services with
their usual checks, and the audit trail says the answer came through the
link. Each opening is audited too.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from api.web.context import CheckedForm, Page, WebPage
from api.web.forms import language_name
from api.web.i18n import LANGUAGE_COOKIE, Translator
from booking.assignments.models import Assignment
from booking.assignments.service import accept, decline
from booking.audit import record_audit
from booking.bookings.models import Booking
from booking.errors import DomainError
from booking.languages.models import Language
from booking.organisations.models import Organisation
from booking.providers.links import LinkClaim, LinkHolder, LinkRefused, read_link
from booking.providers.models import Provider
from booking.types import utc_now
from booking.users.models import User
from booking.vocabulary import AssignmentStatus

router = APIRouter(include_in_schema=False)

ANSWERS = frozenset({"accept", "decline"})
DONE_MESSAGES = frozenset({"accepted", "declined"})


@dataclass(frozen=True)
class Opened:
    """What a valid link opens: one assignment of one provider."""

    token: str
    claim: LinkClaim
    assignment: Assignment
    booking: Booking
    provider: Provider


def _open(page: Page, token: str) -> Opened:
    """The assignment a link grants, in the provider's language; a refusal page otherwise."""
    try:
        claim = read_link(page.settings.secret_key, token, now=utc_now())
    except LinkRefused as refused:
        if refused.expired:
            raise page.error(410, "link.expired") from None
        raise page.error(404, "link.invalid") from None
    assignment = page.db.get(Assignment, claim.assignment_id)
    provider = page.db.get(Provider, assignment.provider_id) if assignment is not None else None
    if assignment is None or provider is None or not provider.is_active:
        raise page.error(404, "link.invalid")
    organisation = page.db.get_one(Organisation, provider.organisation_id)
    # The page speaks the provider's language, unless this browser chose another.
    if LANGUAGE_COOKIE not in page.request.cookies:
        page.locale = provider.locale
    page.t = Translator(page.locale, organisation.timezone)
    booking = page.db.get_one(Booking, assignment.booking_id)
    return Opened(token, claim, assignment, booking, provider)


def _offer_open(opened: Opened) -> bool:
    assignment = opened.assignment
    return (
        opened.claim.purpose == "offer"
        and assignment.status == AssignmentStatus.OFFERED
        and (assignment.offer_expires_at is None or assignment.offer_expires_at > utc_now())
    )


def _render(
    page: Page, opened: Opened, *, status: int = 200, problem: str | None = None
) -> HTMLResponse:
    booking = opened.booking
    language = page.db.get(Language, booking.language_code)
    requesting = page.db.get(Organisation, booking.organisation_id)
    requester = page.db.get(User, booking.requester_id)
    query = page.request.query_params
    done = query.get("done", "")
    answer = query.get("answer", "")
    return page.render(
        "provider_link.html",
        status=status,
        token=opened.token,
        purpose=opened.claim.purpose,
        assignment=opened.assignment,
        booking=booking,
        provider=opened.provider,
        language=language_name(language, page.locale) if language else booking.language_code,
        organisation_name=requesting.name if requesting is not None else "",
        # Who to call about a session they hold, as the confirmation email says.
        requester=requester if opened.assignment.status == AssignmentStatus.CONFIRMED else None,
        offer_open=_offer_open(opened),
        answer=answer if answer in ANSWERS else "",
        done=done if done in DONE_MESSAGES else "",
        problem=problem,
    )


@router.get("/l/{token}")
def provider_link(page: WebPage, token: str) -> HTMLResponse:
    """The session, or the offer with its Accept and Decline buttons (``?answer=`` puts the
    focus on one; nothing is answered by opening the page)."""
    opened = _open(page, token)
    record_audit(
        page.db,
        actor=None,
        action="assignment.link_opened",
        entity=opened.assignment,
        changes={
            "provider_id": opened.provider.id,
            "purpose": opened.claim.purpose,
            "via": "signed_link",
        },
        organisation_id=opened.provider.organisation_id,
    )
    return _render(page, opened)


def _answer(page: Page, form: CheckedForm, token: str, action: str) -> Response:
    opened = _open(page, token)
    if opened.claim.purpose != "offer":
        raise page.error(403, "link.read_only")
    holder = LinkHolder(provider_id=opened.provider.id, assignment_id=opened.assignment.id)
    try:
        with page.attempt():
            if action == "accept":
                accept(page.db, actor=holder, assignment=opened.assignment)
            else:
                decline(
                    page.db,
                    actor=holder,
                    assignment=opened.assignment,
                    lock_hours=page.settings.decline_lock_hours,
                    reason=form.get("reason")[:500] or None,
                )
    except DomainError as refused:
        page.db.refresh(opened.assignment)
        return _render(page, opened, status=refused.status, problem=page.domain_message(refused))
    done = "accepted" if action == "accept" else "declined"
    return page.redirect(f"/l/{token}?done={done}")


@router.post("/l/{token}/accept")
def accept_from_link(page: WebPage, form: CheckedForm, token: str) -> Response:
    """Take the offer, as the provider would from their schedule."""
    return _answer(page, form, token, "accept")


@router.post("/l/{token}/decline")
def decline_from_link(page: WebPage, form: CheckedForm, token: str) -> Response:
    """Say no to the offer."""
    return _answer(page, form, token, "decline")
