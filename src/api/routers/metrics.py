"""``GET /metrics``: Prometheus text exposition (format 0.0.4), for dispatchers and admins.

Operational data only, but it tells how busy each organisation's service
is, so it needs a token of an admin or a dispatcher (configure the scraper
with ``authorization: {credentials: <token>}``). Request counters and
latencies are those of the answering process since it started: with
several API workers, each is scraped separately (Prometheus adds them up
per ``instance``). Bookings, outbox messages, plan runs and the solvers'
queue (plans waiting, the oldest one's age, plans being solved, solvers
busy, plans whose solver died) are counted in the database at scrape time,
so every worker reports the same totals; the outbox figures are those of
``notify.metrics.outbox_metrics`` (by status, by channel and status, the age
of the oldest due message, attempts made).

The database figures follow the tenancy rules of ``booking.access``: an
admin counts everything, a dispatcher the bookings of the organisations
their service serves, their service's plan runs and the notifications
about those bookings or to their colleagues.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy import Select, func
from sqlalchemy.orm import InstrumentedAttribute, Session

from api.auth import require_roles
from api.deps import DbSession
from api.middleware import LATENCY_BUCKETS, Registry
from api.schemas.common import error_responses
from booking.access import booking_query_for, outbox_condition_for
from booking.bookings.models import Booking
from booking.plans.models import Plan
from booking.plans.service import plan_query_for
from booking.types import ensure_aware, utc_now
from booking.users.models import User
from booking.vocabulary import BookingStatus, PlanStatus
from notify.metrics import outbox_metrics

router = APIRouter(tags=["operations"])

EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MetricsReader = Annotated[User, Depends(require_roles("admin", "dispatcher"))]

OUTBOX_FAMILIES: tuple[tuple[str, str, str], ...] = (
    (
        "truchement_outbox_messages",
        "gauge",
        "Notifications in the outbox, by status (dead ones need a person).",
    ),
    (
        "truchement_outbox_messages_by_channel",
        "gauge",
        "Notifications in the outbox, by channel and status.",
    ),
    (
        "truchement_outbox_oldest_due_seconds",
        "gauge",
        "How late the oldest due, unsent notification is (0 when none waits): "
        "a growing value means no worker is delivering.",
    ),
    (
        "truchement_outbox_attempts_total",
        "counter",
        "Delivery attempts made on every notification, retries included.",
    ),
)
"""The families of ``notify.metrics.outbox_metrics``: name, type, help."""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**labels: str) -> str:
    inner = ",".join(f'{name}="{_escape(value)}"' for name, value in labels.items())
    return "{" + inner + "}" if inner else ""


def _number(value: float) -> str:
    if isinstance(value, float) and not value.is_integer():
        return repr(value)
    return str(int(value))


def _header(name: str, kind: str, help_text: str) -> Iterator[str]:
    yield f"# HELP {name} {help_text}"
    yield f"# TYPE {name} {kind}"


def _request_lines(registry: Registry) -> Iterator[str]:
    requests, latency = registry.snapshot()
    yield from _header(
        "truchement_http_requests_total",
        "counter",
        "HTTP requests answered by this process, by method, route template and status.",
    )
    for (method, route, status), count in sorted(requests.items()):
        labels = _labels(method=method, route=route, status=str(status))
        yield f"truchement_http_requests_total{labels} {count}"
    name = "truchement_http_request_duration_seconds"
    yield from _header(name, "histogram", "Time to answer a request, by method and route.")
    for (method, route), histogram in sorted(latency.items()):
        cumulative = 0
        for bound, count in zip(LATENCY_BUCKETS, histogram.buckets, strict=True):
            cumulative += count
            labels = _labels(method=method, route=route, le=repr(bound))
            yield f"{name}_bucket{labels} {cumulative}"
        labels = _labels(method=method, route=route, le="+Inf")
        yield f"{name}_bucket{labels} {histogram.count}"
        plain = _labels(method=method, route=route)
        yield f"{name}_sum{plain} {_number(histogram.total)}"
        yield f"{name}_count{plain} {histogram.count}"


def _counts_by_status(
    db: Session,
    visible: Select[Any],
    column: InstrumentedAttribute[str],
    statuses: Iterable[str],
) -> dict[str, int]:
    """Rows of ``visible`` (a tenancy-scoped query) per status, every status listed."""
    counts = dict.fromkeys(statuses, 0)
    for status, count in db.execute(
        visible.with_only_columns(column, func.count()).group_by(column)
    ):
        counts[str(status)] = int(count)
    return counts


def _gauge(name: str, help_text: str, counts: dict[str, int]) -> Iterator[str]:
    yield from _header(name, "gauge", help_text)
    for status, count in sorted(counts.items()):
        yield f"{name}{_labels(status=status)} {count}"


def _database_lines(db: Session, reader: User) -> Iterator[str]:
    yield from _gauge(
        "truchement_bookings",
        "Bookings the caller may see, by status.",
        _counts_by_status(db, booking_query_for(db, reader), Booking.status, BookingStatus),
    )
    yield from _gauge(
        "truchement_plan_runs",
        "Matcher runs the caller may see, by status.",
        _counts_by_status(db, plan_query_for(db, reader), Plan.status, PlanStatus),
    )
    yield from _plan_queue_lines(db, reader)
    yield from _outbox_lines(db, reader)


def _plan_queue_lines(db: Session, reader: User) -> Iterator[str]:
    """The solvers' queue (``booking.plans.jobs``) as the reader may see it."""
    now = utc_now()
    visible = plan_query_for(db, reader)
    pending = visible.where(Plan.status == PlanStatus.PENDING)
    queued = db.scalar(pending.with_only_columns(func.count())) or 0
    oldest = db.scalar(pending.with_only_columns(func.min(Plan.created_at)))
    running = visible.where(Plan.status == PlanStatus.RUNNING)
    live = running.where(Plan.lease_until >= now)
    solving = db.scalar(live.with_only_columns(func.count())) or 0
    busy = db.scalar(live.with_only_columns(func.count(func.distinct(Plan.claimed_by)))) or 0
    orphaned = db.scalar(running.where(Plan.lease_until < now).with_only_columns(func.count())) or 0
    families = (
        ("truchement_plan_queue_depth", "Plans waiting for a solver.", queued),
        (
            "truchement_plan_queue_oldest_seconds",
            "How long the oldest waiting plan has waited (0 when none waits): a growing "
            "value means no solver is taking plans.",
            (now - ensure_aware(oldest)).total_seconds() if oldest is not None else 0,
        ),
        ("truchement_plans_solving", "Plans being solved under a live lease.", solving),
        (
            "truchement_solvers_busy",
            "Solvers holding a plan now; divided by the solver processes deployed, the "
            "solvers' utilisation.",
            busy,
        ),
        (
            "truchement_plans_orphaned",
            "Running plans whose lease ran out (their solver died): taken again soon.",
            orphaned,
        ),
    )
    for name, help_text, value in families:
        yield from _header(name, "gauge", help_text)
        yield f"{name} {_number(round(max(0.0, float(value)), 3))}"


def _outbox_lines(db: Session, reader: User) -> Iterator[str]:
    values = outbox_metrics(db, visible=outbox_condition_for(db, reader))
    for family, kind, help_text in OUTBOX_FAMILIES:
        yield from _header(family, kind, help_text)
        for sample in sorted(key for key in values if key.partition("{")[0] == family):
            yield f"{sample} {_number(values[sample])}"


@router.get(
    "/metrics",
    summary="Prometheus metrics (admin or dispatcher)",
    response_class=PlainTextResponse,
    responses={
        200: {
            "description": "Prometheus text exposition format 0.0.4.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        **error_responses(401, 403),
    },
)
def metrics(request: Request, db: DbSession, reader: MetricsReader) -> PlainTextResponse:
    """Request counts and latencies of this process; bookings and plan runs by status; the
    outbox by status and by channel, the age of its oldest due message and the attempts made."""
    registry: Registry = request.app.state.metrics
    lines = [*_request_lines(registry), *_database_lines(db, reader)]
    return PlainTextResponse("\n".join(lines) + "\n", media_type=EXPOSITION_CONTENT_TYPE)
