"""Dense days: the routes the searches met, timed one by one and combined at their best."""

from __future__ import annotations

import pytest
from ortools.sat.python import cp_model

from matching.model import Prepared, prepare
from matching.problem import Problem
from matching.route_pool import Call, Route, Stop, _hint_calls, best_combination, routes_of, timed
from matching.routing_search import settle
from tests.matching.factories import LILLE, TOURNAI, problem, provider, session


def two_towns(salaried: bool = False) -> Problem:
    """Two sessions in Lille and two in Tournai, windowed; a provider living in each town."""
    return problem(
        [
            provider("p-lille", living=LILLE, counts_idle=salaried),
            provider("p-tournai", living=TOURNAI, counts_idle=salaried),
        ],
        [
            session("lille-1", window=("2026-12-01 08:00", "2026-12-01 12:00")),
            session("lille-2", start="2026-12-01 14:00"),
            session("tournai-1", place=TOURNAI, window=("2026-12-01 08:00", "2026-12-01 12:00")),
            session("tournai-2", place=TOURNAI, start="2026-12-01 14:00"),
        ],
    )


def stops(prepared: Prepared, provider_id: str, *session_ids: str) -> Route:
    """The route of one provider's day through these sessions, with their start ranges."""
    problem = prepared.problem
    p_idx = next(i for i, p in enumerate(problem.providers) if p.id == provider_id)
    found: list[Stop] = []
    day = 0
    for session_id in session_ids:
        s_idx = next(i for i, s in enumerate(problem.sessions) if s.id == session_id)
        option = next(o for o in prepared.options[s_idx] if o.provider == p_idx)
        window = option.ranges[0]
        day = window.day
        found.append((s_idx, window.lo, window.hi))
    return (p_idx, day), tuple(found)


def by_id(prepared: Prepared, placement: dict[int, tuple[int, int]]) -> dict[str, str]:
    problem = prepared.problem
    return {problem.sessions[s].id: problem.providers[p].id for s, (p, _) in placement.items()}


def test_a_salaried_route_starts_its_windowed_session_as_late_as_it_can() -> None:
    prepared = prepare(two_towns(salaried=True))
    (p_idx, _day), route = stops(prepared, "p-lille", "lille-1", "lille-2")
    found = timed(prepared.problem, prepared.travel, p_idx, route)
    assert found is not None
    starts, cost = found
    # The 10:00 window closes at 12:00: the hour-long session ends at 13:00, an hour's wait.
    assert starts[0] == route[0][2]
    assert starts[1] == route[1][1]
    assert starts[1] - (starts[0] + 60) == 60
    drives = cost - 60
    assert drives == 2 * prepared.travel.minutes(prepared.problem.providers[p_idx].home, LILLE)


def test_a_freelance_route_costs_its_drives_only() -> None:
    salaried, freelance = prepare(two_towns(salaried=True)), prepare(two_towns())
    for prepared, waiting in ((salaried, 60), (freelance, 0)):
        (p_idx, _), route = stops(prepared, "p-lille", "lille-1", "lille-2")
        found = timed(prepared.problem, prepared.travel, p_idx, route)
        assert found is not None
        home = prepared.problem.providers[p_idx].home
        assert found[1] == 2 * prepared.travel.minutes(home, LILLE) + waiting


def test_a_route_that_cannot_keep_its_windows_or_the_daily_minutes_is_not_timed() -> None:
    prepared = prepare(two_towns())
    (p_idx, _), route = stops(prepared, "p-lille", "lille-2", "tournai-1")
    assert timed(prepared.problem, prepared.travel, p_idx, route) is None  # 14:00, then before noon
    tired = prepare(
        problem(
            [provider("p-lille", max_minutes_per_day=90)],
            [session("a", start="2026-12-01 09:00"), session("b", start="2026-12-01 11:00")],
        )
    )
    (p_idx, _), route = stops(tired, "p-lille", "a", "b")
    assert timed(tired.problem, tired.travel, p_idx, route) is None


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_the_combination_takes_each_day_from_the_plan_that_routed_it_best(workers: int) -> None:
    prepared = prepare(two_towns())
    # One plan left Tournai's morning out, the other Lille's afternoon.
    first = {
        stops(prepared, "p-lille", "lille-1", "lille-2"),
        stops(prepared, "p-tournai", "tournai-2"),
    }
    second = {
        stops(prepared, "p-lille", "lille-1"),
        stops(prepared, "p-tournai", "tournai-1", "tournai-2"),
    }
    placement = best_combination(
        prepared.problem, prepared.travel, first | second, first, seconds=5, workers=workers
    )
    assert by_id(prepared, placement) == {
        "lille-1": "p-lille",
        "lille-2": "p-lille",
        "tournai-1": "p-tournai",
        "tournai-2": "p-tournai",
    }


def test_the_combination_with_nothing_better_pooled_is_the_hint() -> None:
    prepared = prepare(two_towns())
    hint = {stops(prepared, "p-lille", "lille-1"), stops(prepared, "p-tournai", "tournai-2")}
    placement = best_combination(
        prepared.problem, prepared.travel, hint, hint, seconds=5, workers=1
    )
    assert by_id(prepared, placement) == {"lille-1": "p-lille", "tournai-2": "p-tournai"}
    assert best_combination(prepared.problem, prepared.travel, set(), set(), 5, 1) == {}


def test_a_placement_s_routes_carry_the_ranges_its_starts_lie_in() -> None:
    prepared = prepare(two_towns())
    route = stops(prepared, "p-lille", "lille-1", "lille-2")
    found = timed(prepared.problem, prepared.travel, route[0][0], route[1])
    assert found is not None
    placement = {
        stop[0]: (route[0][0], start) for stop, start in zip(route[1], found[0], strict=True)
    }
    assert routes_of(prepared.problem, prepared.timeline, prepared.options, placement) == {route}


def lunch_wait(salaried: bool = True, max_minutes: int = 480) -> Problem:
    """Sessions in Lille at 09:00 and 14:00 for a provider from Tournai, and an hour's call.

    Drives of 37 minutes each way: the day works 194 minutes without the call.
    """
    return problem(
        [
            provider(
                "p-tournai",
                living=TOURNAI,
                counts_idle=salaried,
                max_minutes_per_day=max_minutes,
            )
        ],
        [
            session("lille-1", start="2026-12-01 09:00"),
            session("lille-2", start="2026-12-01 14:00"),
            session("call", place=None, window=("2026-12-01 08:00", "2026-12-01 16:00")),
        ],
    )


def test_the_combination_holds_a_call_while_a_salaried_provider_waits_between_two_places() -> None:
    prepared = prepare(lunch_wait())
    day = stops(prepared, "p-tournai", "lille-1", "lille-2")
    calls = {2: prepared.options[2]}
    placement = best_combination(prepared.problem, prepared.travel, {day}, set(), 5, 1, calls)
    assert by_id(prepared, placement) == {s: "p-tournai" for s in ("lille-1", "lille-2", "call")}
    # Held in Lille after the morning session and before the afternoon one.
    first, second = placement[0][1], placement[1][1]
    assert first + 60 <= placement[2][1] <= second - 120


def test_a_priced_day_with_two_calls_in_its_wait_is_combined_whole() -> None:
    prepared = prepare(
        problem(
            [provider("p-tournai", living=TOURNAI, counts_idle=True)],
            [
                session("lille-1", start="2026-12-01 09:00"),
                session("lille-2", start="2026-12-01 14:00"),
                session("call-1", place=None, window=("2026-12-01 10:00", "2026-12-01 13:00")),
                session("call-2", place=None, window=("2026-12-01 10:00", "2026-12-01 13:00")),
                session("call-3", place=None, window=("2026-12-01 07:00", "2026-12-01 16:00")),
            ],
        )
    )
    (key, places) = stops(prepared, "p-tournai", "lille-1", "lille-2")
    whole = key, (places[0], *stops(prepared, "p-tournai", "call-1", "call-2")[1], places[1])
    onsite_cost = timed(prepared.problem, prepared.travel, key[0], places)
    whole_timed = timed(prepared.problem, prepared.travel, key[0], whole[1])
    assert onsite_cost is not None and whole_timed is not None
    # Two hours of the four-hour wait are calls: two hours less idle time.
    assert onsite_cost[1] - whole_timed[1] == 120
    calls = {s: prepared.options[s] for s in (2, 3, 4)}
    placement = best_combination(
        prepared.problem, prepared.travel, {whole, (key, places)}, set(), 5, 1, calls
    )
    assert set(by_id(prepared, placement)) == {"lille-1", "lille-2", "call-1", "call-2", "call-3"}
    assert [placement[s][1] for s in (2, 3)] == whole_timed[0][1:3]
    # The wait is the two calls': the third is held before the first place or after the last.
    call_3 = placement[4][1]
    assert call_3 + 60 <= placement[0][1] or call_3 >= placement[1][1] + 60
    # Without the calls asked for, the day that holds two of them is not taken.
    alone = best_combination(prepared.problem, prepared.travel, {whole}, set(), 5, 1)
    assert alone == {}


def test_a_freelance_day_holds_a_call_beside_its_route_and_a_full_day_none() -> None:
    freelance = prepare(lunch_wait(salaried=False))
    day = stops(freelance, "p-tournai", "lille-1", "lille-2")
    calls = {2: freelance.options[2]}
    placement = best_combination(freelance.problem, freelance.travel, {day}, set(), 5, 1, calls)
    assert by_id(freelance, placement)["call"] == "p-tournai"
    full = prepare(lunch_wait(max_minutes=220))  # 26 minutes left: no room for an hour's call
    day = stops(full, "p-tournai", "lille-1", "lille-2")
    calls = {2: full.options[2]}
    placement = best_combination(full.problem, full.travel, {day}, set(), 5, 1, calls)
    assert by_id(full, placement) == {"lille-1": "p-tournai", "lille-2": "p-tournai"}


def test_the_combination_leaves_room_for_a_call_only_one_provider_can_take() -> None:
    prepared = prepare(
        problem(
            [
                provider("p-lille", languages=("ara", "tir")),
                provider("p-tournai", living=TOURNAI),
            ],
            [
                session("lille-1", start="2026-12-01 09:00"),
                session("call", place=None, start="2026-12-01 09:00", language="tir"),
            ],
        )
    )
    near = stops(prepared, "p-lille", "lille-1")
    far = stops(prepared, "p-tournai", "lille-1")
    calls = {1: prepared.options[1]}
    # Without the call the provider at the place takes the session; with it, the one who can
    # take the call at that hour is left free for it, and the other drives.
    alone = best_combination(prepared.problem, prepared.travel, {near, far}, set(), 5, 1)
    assert by_id(prepared, alone) == {"lille-1": "p-lille"}
    both = best_combination(prepared.problem, prepared.travel, {near, far}, set(), 5, 1, calls)
    assert by_id(prepared, both) == {"lille-1": "p-tournai", "call": "p-lille"}
    placed, left = settle(
        prepared.problem, prepared.timeline, prepared.travel, prepared.options, both
    )
    assert left == []
    assert by_id(prepared, placed) == {"lille-1": "p-tournai", "call": "p-lille"}


def test_two_calls_that_fit_beside_a_route_only_one_at_a_time_are_not_both_held_there() -> None:
    prepared = prepare(
        problem(
            [provider("p-lille")],
            [
                session("lille-1", start="2026-12-01 09:30", priority=3),
                session("call-1", place=None, window=("2026-12-01 08:00", "2026-12-01 10:00")),
                session("call-2", place=None, window=("2026-12-01 08:00", "2026-12-01 10:00")),
            ],
        )
    )
    # Free from 08:00, the provider has 90 minutes before the session and none after it
    # that either call's window reaches: room for one hour's call, not two.
    day = stops(prepared, "p-lille", "lille-1")
    calls = {1: prepared.options[1], 2: prepared.options[2]}
    placement = best_combination(prepared.problem, prepared.travel, {day}, set(), 5, 1, calls)
    assert "lille-1" in by_id(prepared, placement)
    assert len({"call-1", "call-2"} & set(by_id(prepared, placement))) == 1


def test_the_combination_starts_a_group_later_to_free_a_provider_and_keeps_it_together() -> None:
    prepared = prepare(
        problem(
            [provider("p-a"), provider("p-b")],
            [
                session("place-1", window=("2026-12-01 09:00", "2026-12-01 11:00")),
                session("place-2", window=("2026-12-01 09:00", "2026-12-01 11:00")),
                session("nine", start="2026-12-01 09:00", priority=2),
            ],
        )
    )

    def at(provider_id: str, *visits: tuple[str, str]) -> Route:
        (key, found) = stops(prepared, provider_id, *(name for name, _ in visits))
        return key, tuple(
            (s_idx, lo + _minutes(hour), lo + _minutes(hour)) if hour else (s_idx, lo, hi)
            for (s_idx, lo, hi), (_, hour) in zip(found, visits, strict=True)
        )

    group = at("p-a", ("place-1", "09:00")), at("p-b", ("place-2", "09:00"))
    # The group at 09:00 keeps both providers from the nine o'clock session; at 10:00 one of
    # them takes it first, but only if the other place starts at 10:00 too.
    later = at("p-a", ("nine", ""), ("place-1", "10:00"))
    apart = {*group, later}

    def combined(pool: set[Route]) -> dict[int, tuple[int, int]]:
        return best_combination(
            prepared.problem,
            prepared.travel,
            pool,
            set(group),
            5,
            1,
            required=(0, 1),
            together=[(0, 1)],
        )

    placement = combined(apart)
    assert by_id(prepared, placement) == {"place-1": "p-a", "place-2": "p-b"}
    assert placement[0][1] == placement[1][1]  # not one place at 09:00 and the other at 10:00
    placement = combined({*apart, at("p-b", ("place-2", "10:00"))})
    assert by_id(prepared, placement) == {"place-1": "p-a", "place-2": "p-b", "nine": "p-a"}
    assert placement[0][1] == placement[1][1] == placement[2][1] + 60


def _minutes(hour: str) -> int:
    """Minutes after 09:00 of a clock time on the same day."""
    hours, minutes = hour.split(":")
    return (int(hours) - 9) * 60 + int(minutes)


def test_the_hint_s_calls_are_hinted_where_the_hint_has_them() -> None:
    model = cp_model.CpModel()
    in_wait, elsewhere_in_wait = model.new_bool_var("w0"), model.new_bool_var("w1")
    monday, tuesday, other = (model.new_bool_var(n) for n in ("mon", "tue", "other"))
    held = [(in_wait, Call(0, 0, 1, 600)), (elsewhere_in_wait, Call(1, 0, 1, 600))]
    beside = [
        (monday, (1, 2, 0, 480), []),
        (tuesday, (1, 2, 1, 1920), []),
        (other, (1, 3, 1, 1920), []),
    ]
    # Call 0 is in the wait it fills; call 1 is on provider 2's Tuesday, not in a wait.
    _hint_calls(model, held, beside, {0: (0, 600), 1: (2, 2000)})
    hints = dict(zip(model.proto.solution_hint.vars, model.proto.solution_hint.values, strict=True))
    assert hints == {
        in_wait.index: 1,
        elsewhere_in_wait.index: 0,
        monday.index: 0,
        tuesday.index: 1,
        other.index: 0,
    }
