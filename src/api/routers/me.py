"""The caller's own profile: who the token or session belongs to."""

from __future__ import annotations

from fastapi import APIRouter

from api.auth import CurrentUser
from api.deps import DbSession
from api.schemas.common import error_responses
from api.schemas.users import MeOut, OrganisationSummary, UserOut
from booking.users import service

router = APIRouter(prefix="/api/v1", tags=["me"])


@router.get("/me", summary="Who am I", response_model=MeOut, responses=error_responses(401))
def read_me(db: DbSession, user: CurrentUser) -> MeOut:
    """The signed-in user, their organisation and, for a provider, their provider id."""
    organisation, provider = service.profile(db, user=user)
    return MeOut(
        **UserOut.model_validate(user).model_dump(),
        organisation=OrganisationSummary.model_validate(organisation),
        provider_id=provider.id if provider is not None else None,
    )
