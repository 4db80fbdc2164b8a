"""Assignments: a provider on a booking, from proposal to confirmation, and who may move it.

The state machine (docs/api.md): ``proposed -> offered -> accepted -> confirmed``,
or ``declined`` (the booking goes back to ``requested``), or ``cancelled``;
an offer nobody answered in time becomes ``expired``. A provider accepts or
declines only their own offers and work, and cannot give back accepted or
confirmed work within ``decline_lock_hours`` of its start (a dispatcher can).
A dispatcher proposes, offers, confirms and cancels for the providers of
their service; an admin for everyone.

Accepted work is a commitment as much as confirmed work: every path that
gives a provider work (a manual assignment, an offer, accepting, confirming,
applying a plan) checks it against the provider's accepted and confirmed
work, overlaps and the time to drive between the places alike
(``assert_fits_commitments``). Accepting and confirming lock the booking
and then the provider row (``SELECT ... FOR NO KEY UPDATE`` on PostgreSQL)
before checking, so two commitments of one provider serialise; PostgreSQL's
exclusion constraint (no overlapping accepted or confirmed work) and the
"one accepted or confirmed assignment per booking" index are the last
guards; their violations become ``Conflict`` (409), never a 500.

Every function flushes and never commits. The parts, each along one seam:

- ``access``: who sees an assignment and who may move it;
- ``guards``: the locks, the preconditions and the database's last guards;
- ``commitments``: nothing new may clash with accepted or confirmed work;
- ``records``: the audit rows and the booking's status that go with a change;
- ``candidates``: every provider who could take a booking, ranked;
- ``manual``: a dispatcher's own choice, under the matcher's rules;
- ``transitions``: offer, accept, decline, confirm, cancel.

Callers import from here (``booking.assignments.service``).
"""

from booking.assignments.service.access import (
    Answerer,
    assignment_query_for,
    get_visible_assignment,
    require_staffing_right,
)
from booking.assignments.service.candidates import (
    CandidateView,
    booking_days,
    candidates_for,
    current_plan,
)
from booking.assignments.service.commitments import (
    assert_fits_commitments,
    assert_no_confirmed_overlap,
)
from booking.assignments.service.guards import (
    ensure_booking_open,
    ensure_not_held,
    ensure_reachable,
    fits_booking,
    flush_guarded,
    guard_conflict,
    lock_booking,
    lock_for_commitments,
    lock_provider,
)
from booking.assignments.service.manual import (
    assign_manually,
    check_manual_pair,
)
from booking.assignments.service.records import (
    audit_assignment,
    close_others,
    create_proposal,
    set_booking_status,
)
from booking.assignments.service.transitions import (
    accept,
    cancel_assignment,
    confirm,
    decline,
    send_offer,
)

__all__ = [
    "Answerer",
    "CandidateView",
    "accept",
    "assert_fits_commitments",
    "assert_no_confirmed_overlap",
    "assign_manually",
    "assignment_query_for",
    "audit_assignment",
    "booking_days",
    "cancel_assignment",
    "candidates_for",
    "check_manual_pair",
    "close_others",
    "confirm",
    "create_proposal",
    "current_plan",
    "decline",
    "ensure_booking_open",
    "ensure_not_held",
    "ensure_reachable",
    "fits_booking",
    "flush_guarded",
    "get_visible_assignment",
    "guard_conflict",
    "lock_booking",
    "lock_for_commitments",
    "lock_provider",
    "require_staffing_right",
    "send_offer",
    "set_booking_status",
]
