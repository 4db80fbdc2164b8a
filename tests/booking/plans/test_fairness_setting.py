"""A service's `fairness_weight` reaches its plans, and each plan says how it shares the work."""

from __future__ import annotations

from collections import Counter

from sqlalchemy.orm import Session

from tests.booking.dispatch_world import World
from tests.booking.plans.test_service import proposals_of, run

MOUSCRON = (50.74334, 3.21391)


def _day_of_four(db: Session, world: World) -> None:
    """Two providers living in Mouscron, a drive from the Tournai site; four sessions there."""
    for name in ("Awet", "Selam"):
        world.provider(db, name=name, home_lat=MOUSCRON[0], home_lon=MOUSCRON[1])
    for hour in (9, 11, 13, 15):
        world.booking(db, hour=hour)


def test_without_the_setting_one_provider_drives_once_for_the_whole_day(
    db: Session, world: World
) -> None:
    _day_of_four(db, world)
    plan = run(db, world)

    shares = Counter(a.provider_id for a in proposals_of(db, plan.id).values())
    assert sorted(shares.values()) == [4]
    sharing = plan.result["sharing"]
    assert sharing["fairness_weight"] == 0
    assert sharing["workload"]["providers"] == 2
    assert sharing["workload"]["min"] == 0 and sharing["workload"]["gini"] == 0.5
    assert "fairness" not in sharing


def test_with_the_setting_the_day_is_shared_at_the_price_of_a_second_drive(
    db: Session, world: World
) -> None:
    _day_of_four(db, world)
    alone = run(db, world).result["sharing"]["travel_minutes"]
    world.service.fairness_weight = 10
    db.flush()
    plan = run(db, world)

    shares = Counter(a.provider_id for a in proposals_of(db, plan.id).values())
    assert sorted(shares.values()) == [2, 2]
    sharing = plan.result["sharing"]
    assert sharing["workload"]["gini"] == 0.0
    assert sharing["fairness"]["largest_load"] == 2 * 60
    assert sharing["fairness"]["penalty"] == 10 * 120
    assert sharing["travel_minutes"] == 2 * alone
