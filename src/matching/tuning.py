"""Every number that steers how the matcher spends its time, in one place.

None of them changes what a valid plan is or how it is scored: they decide
which path a group of sessions takes (`strategy.path_for`), how the time
limit is shared between the steps of that path, and how the neighbourhood
search cuts its pieces. The defaults were measured on the S, M and L bench
instances (benchmarks/README.md). Sizes are counted in start ranges, the
size of a model (`decompose.Part.size`): for each provider who may take a
session, the starts on one local day that keep it inside one availability
interval. docs/problem.md has the table of paths and of these numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Tuning:
    """The matcher's tuning numbers, each with the sentence that says what it is for."""

    # Which path a group takes, by its size ------------------------------------------

    bundle_up_to: int = 600
    """Parts smaller than this are bundled into models of about this size: hundreds of
    one-session models would cost more to set up than to solve."""
    search_first_from: int = 1_000
    """From this size on, a group that goes to the full model is first improved by the
    neighbourhood search, which often reaches the medium cap in a second where phase 1
    takes ten."""
    full_model_up_to: int = 6_000
    """Groups up to this size are solved as one CP-SAT model, which can prove both levels;
    larger ones are only improved by the neighbourhood search."""

    # How a group's time is shared ------------------------------------------------------

    bound_share: float = 0.15
    """Most of a group's time the 0-1 relaxation that caps medium may use (it rarely needs
    more than a fraction of it)."""
    scarce_up_to: int = 5_000
    """Size of the exact model of a large group's scarce sessions, whose proof caps medium
    tighter than the relaxation."""
    scarce_share: float = 0.1
    """Most of a large group's time that model of its scarce sessions may use."""
    search_first_share: float = 0.2
    """Most of a group's time the search before the full model may use; it stops sooner
    when medium reaches the cap."""
    medium_share: float = 0.7
    """Most of the full model's time phase 1 (medium alone) may use; it stops as soon as
    medium is proven, and phase 2 (soft) gets the rest."""
    polish_after: float = 1.0
    """A phase 1 longer than this many seconds marks a hard model: its plan ignores travel,
    so the search cuts that travel before phase 2 starts from it."""
    polish_share: float = 0.3
    """Share of the time left after such a slow phase 1 that the search may use."""

    # The neighbourhood search ----------------------------------------------------------

    piece_providers: int = 8
    """Providers whose day one piece re-plans at once."""
    piece_sessions: int = 40
    """Sessions one piece holds at most (what those providers hold that day, then
    unstaffed sessions they could take)."""
    piece_seconds: float = 2.0
    """Time limit of one piece's exact model."""
    unstaffed_first: float = 0.7
    """Chance that the next piece is cut around an unstaffed session rather than a
    staffed one (whose neighbourhood may save travel), while medium is below its cap."""
    widen_after: int = 60
    """Pieces in a row without a gain after which pieces grow by one step."""
    widest: int = 4
    """Pieces grow to at most this many times their size."""
    quiet_limit: int = 400
    """Pieces in a row without a gain after which a search at the medium cap stops."""
    stale_limit: int = 100
    """Pieces in a row without a gain in medium after which a search that is only to reach
    the cap (before the full model) gives up."""

    # Dense days (`routing_search`) ----------------------------------------------------

    route_from: float = 2.5
    """Sessions per provider-day (of the days their options open) from which a group is
    routed: dense days hold four to six, S and M under one."""
    route_min_sessions: int = 40
    """Groups smaller than this are never routed: the model proves them."""
    route_around_held: bool = True
    """Whether a dense group with group sessions, modality ladders or pinned pairs is routed
    around them (`route_scope`); without, it takes its size's path, which knows them but
    routes poorly (kept for `benchmarks/dense_held.py` to compare the two)."""
    route_share: float = 0.3
    """Share of a dense group's time this process's routing library search takes (then
    column generation), beside the searches from scratch in a child process."""
    route_child_share: float = 0.6
    """Share of a dense group's time the child process's routing library searches take; column
    generation then has the routes of every search until the combination."""
    route_combine_share: float = 0.07
    """Share of a dense group's time CP-SAT takes to combine the best routes the searches met."""
    route_polish_share: float = 0.03
    """Share of a dense group's time kept after the last combination, for pricing around its
    plan, the combination again and route neighbourhoods on every worker."""
    route_medium_share: float = 0.1
    """Share of a dense group's time kept after the routing: the search's insertions when the
    routes staff less than the bound allows, else more route neighbourhoods."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_share") or f.name == "unstaffed_first":
                if not 0 <= value <= 1:
                    raise ValueError(f"{f.name} is a share of time, between 0 and 1: {value}")
            elif value < 0:
                raise ValueError(f"{f.name} cannot be negative: {value}")
        for name in ("piece_providers", "piece_sessions", "widest"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1: {getattr(self, name)}")


DEFAULT_TUNING = Tuning()
"""What `solve` uses unless told otherwise."""
