"""The solver: take queued plans, solve them under a lease, store progress while solving.

``Solver.run_one`` claims one plan (``booking.plans.jobs``), commits the
claim, reads the problem, commits again (no transaction stays open while
CP-SAT runs), solves and stores the plan in a last transaction, if the lease
is still its own. A heartbeat thread renews the lease every
``plan_heartbeat_seconds``, stores the progress the matcher reported (best
medium and soft so far, their bounds, seconds elapsed), and reads a
dispatcher's stop request: the next solution then stops the search and the
best plan found so far is stored. A solve that breaks (a booking changed
meanwhile, the database went away) gives the plan back, to be taken again
up to ``plan_max_attempts`` times.

``run_forever`` is the loop of ``truchement solver`` and of the solver
thread that ``serve`` starts on SQLite; ``run_pending_plans`` solves what is
queued and returns, for tests and ``truchement solver --once``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Collection
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session

from booking.errors import DomainError
from booking.plans.failures import PlanFailure
from booking.plans.jobs import Claim, claim_next, release, renew_lease, still_held, taken_by_earlier
from booking.plans.models import Plan
from booking.plans.repair import solve_repair
from booking.plans.service import solve_plan
from booking.settings import Settings, get_settings
from booking.types import utc_now
from booking.users.models import User
from booking.vocabulary import PlanKind, PlanStatus

log = logging.getLogger("truchement.solver")

Sessions = Callable[[], AbstractContextManager[Session]]
"""Opens a session for one step (``sessionmaker`` is one; tests pass their own)."""

STOPPED_WARNING = "Stopped by a dispatcher: the best plan found in {seconds:.0f} s."


def solver_name() -> str:
    """A name unique to this solver: host, process, and a random part for threads."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Progress:
    """What the matcher reported so far, shared between its thread and the heartbeat."""

    def __init__(self, time_limit: float, *, stop: bool = False) -> None:
        self.time_limit = time_limit
        self.began = time.monotonic()
        self.stop = threading.Event()
        if stop:
            self.stop.set()
        self._lock = threading.Lock()
        self._levels: dict[str, float] = {}
        self._solutions = 0
        self.stopped_search = False

    def report(self, phase: str, value: float, bound: float) -> bool:
        """The matcher's callback: remember a new solution; True asks the search to stop."""
        with self._lock:
            self._solutions += 1
            self._levels[phase] = value
            self._levels[f"{phase}_bound"] = bound
            self._levels["phase_at"] = time.monotonic() - self.began
        if self.stop.is_set():
            self.stopped_search = True
            return True
        return False

    def snapshot(self, **extra: Any) -> dict[str, Any]:
        """The progress as stored on the plan (``plan.progress``)."""
        with self._lock:
            levels = dict(self._levels)
            solutions = self._solutions
        return {
            "elapsed_seconds": round(time.monotonic() - self.began, 1),
            "time_limit": self.time_limit,
            "solutions": solutions,
            **{k: round(v, 1) for k, v in levels.items() if k != "phase_at"},
            "stop_requested": self.stop.is_set(),
            "updated_at": utc_now().isoformat(),
            **extra,
        }


class Solver:
    """One solver: claims plans from the shared queue and solves them, one at a time."""

    def __init__(
        self,
        sessions: Sessions,
        settings: Settings | None = None,
        *,
        name: str | None = None,
        heartbeat: bool = True,
        kinds: Collection[str] | None = None,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self.sessions = sessions
        self.kinds = kinds
        self.clock = clock
        self.settings = settings or get_settings()
        self.name = name or solver_name()
        self.heartbeat = heartbeat
        self.busy_seconds = 0.0
        self.solved = 0

    def claim(self) -> Claim | None:
        with self.sessions() as db:
            claim = claim_next(
                db,
                solver=self.name,
                lease_seconds=self.settings.plan_lease_seconds,
                max_attempts=self.settings.plan_max_attempts,
                now=self.clock(),
                kinds=self.kinds,
            )
            db.commit()
            return claim

    def run_one(self) -> int | None:
        """Claim and solve one plan; its id, or None when nothing waits."""
        claim = self.claim()
        if claim is None:
            return None
        began = time.monotonic()
        try:
            self._solve(claim)
        except (DomainError, SQLAlchemyError, ValueError, RuntimeError) as exc:
            log.warning("plan %s: the solve broke (%s), giving it back", claim.plan_id, exc)
            self._give_back(claim, *_reason(exc))
        finally:
            self.busy_seconds += time.monotonic() - began
        return claim.plan_id

    def _solve(self, claim: Claim) -> None:
        with self.sessions() as db:
            plan = db.get_one(Plan, claim.plan_id)
            actor = db.get_one(User, plan.created_by_id)
            progress = Progress(
                float((plan.parameters or {}).get("time_limit") or 0), stop=plan.stop_requested
            )
            skip = taken_by_earlier(db, plan)
            beat = self._start_heartbeat(claim, progress)
            try:
                if plan.kind == PlanKind.REPAIR:
                    # Work that fell through: offered or proposed, and told, as it is solved.
                    solve_repair(
                        db,
                        plan,
                        now=self.clock(),
                        workers=self.settings.solver_threads,
                        progress=progress.report,
                    )
                else:
                    solve_plan(
                        db,
                        actor=actor,
                        plan=plan,
                        now=self.clock(),
                        workers=self.settings.solver_threads,
                        skip_booking_ids=skip,
                        progress=progress.report,
                        after_build=db.commit,
                    )
            except BaseException:
                db.rollback()  # nothing of a broken solve is kept; the plan goes back
                raise
            finally:
                beat()
            if not still_held(db, claim):
                log.warning("plan %s: the lease was lost meanwhile; dropping this solve", plan.id)
                db.rollback()
                return
            finished = progress.snapshot(
                proven=plan.status == PlanStatus.DONE
                and (plan.result or {}).get("stats", {}).get("status") == "OPTIMAL",
                stopped=progress.stopped_search,
            )
            plan.progress = finished
            plan.lease_until = None
            if progress.stopped_search and plan.result is not None:
                warning = STOPPED_WARNING.format(seconds=finished["elapsed_seconds"])
                plan.result = {
                    **plan.result,
                    "warnings": [*plan.result.get("warnings", []), warning],
                }
            db.commit()
            self.solved += 1
            log.info("plan %s: %s in %.1f s", plan.id, plan.status, finished["elapsed_seconds"])

    def _start_heartbeat(self, claim: Claim, progress: Progress) -> Callable[[], None]:
        """Renew the lease and store the progress every few seconds; returns its stop."""
        if not self.heartbeat:
            return lambda: None
        done = threading.Event()

        def beat() -> None:
            while not done.wait(self.settings.plan_heartbeat_seconds):
                try:
                    with self.sessions() as db:
                        lease = renew_lease(
                            db,
                            claim,
                            lease_seconds=self.settings.plan_lease_seconds,
                            progress=progress.snapshot(),
                        )
                        db.commit()
                except SQLAlchemyError as exc:  # the next beat tries again
                    log.warning("plan %s: heartbeat failed: %s", claim.plan_id, exc)
                    continue
                if lease.stop_requested or not lease.held:
                    progress.stop.set()

        thread = threading.Thread(target=beat, name=f"heartbeat-{claim.plan_id}", daemon=True)
        thread.start()

        def stop() -> None:
            done.set()
            thread.join()

        return stop

    def _give_back(self, claim: Claim, error: str, code: PlanFailure) -> None:
        try:
            with self.sessions() as db:
                release(
                    db,
                    claim,
                    error=error,
                    code=code,
                    max_attempts=self.settings.plan_max_attempts,
                )
                db.commit()
        except SQLAlchemyError as exc:  # the lease runs out and another solver takes it
            log.warning("plan %s: could not give it back: %s", claim.plan_id, exc)

    def run_pending(self) -> list[int]:
        """Solve every plan that may be taken now, then return their ids."""
        done: list[int] = []
        while (plan_id := self.run_one()) is not None:
            done.append(plan_id)
        return done

    def run_forever(self, stop: threading.Event) -> None:
        """Solve plans as they come until ``stop`` is set; a database outage is waited out."""
        log.info("solver %s started", self.name)
        while not stop.is_set():
            try:
                if self.run_one() is not None:
                    continue
            except SQLAlchemyError as exc:
                log.warning("solver %s: the queue is unreachable: %s", self.name, exc)
            stop.wait(self.settings.solver_poll_seconds)
        log.info("solver %s stopped after %d plans", self.name, self.solved)


def _reason(exc: Exception) -> tuple[str, PlanFailure]:
    """The technical text of a broken solve, and which failure it is if it was the last try."""
    if isinstance(exc, DomainError):
        code = PlanFailure.INTERRUPTED if exc.code == "plan_interrupted" else PlanFailure.REJECTED
        return exc.detail or exc.title, code
    if isinstance(exc, DBAPIError):
        text = f"The database failed during the solve ({type(exc.orig).__name__})."
        return text, PlanFailure.DATABASE
    return f"The solve failed: {exc}", PlanFailure.CRASHED


def run_pending_plans(
    sessions: Sessions, settings: Settings | None = None, *, heartbeat: bool = False
) -> list[int]:
    """Solve every queued plan that may be taken now, in this thread; their ids."""
    return Solver(sessions, settings, heartbeat=heartbeat).run_pending()


def start_solver_thread(
    sessions: Sessions, settings: Settings | None = None
) -> tuple[threading.Thread, Callable[[], None]]:
    """One solver in a thread of this process (``serve`` on SQLite); returns it and its stop."""
    stop = threading.Event()
    solver = Solver(sessions, settings)
    thread = threading.Thread(target=solver.run_forever, args=(stop,), name="solver", daemon=True)
    thread.start()

    def halt() -> None:
        stop.set()
        with contextlib.suppress(RuntimeError):
            thread.join(timeout=5)

    return thread, halt
