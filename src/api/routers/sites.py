"""Sites: the places where an organisation's sessions happen."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from api.auth import AdminUser, CurrentUser
from api.deps import DbSession
from api.schemas.common import MAX_ID, IdPath, Page, PageQuery, error_responses, paginate
from api.schemas.organisations import SiteCreate, SiteOut, SiteUpdate
from booking.organisations import service
from booking.organisations.models import Site

router = APIRouter(prefix="/api/v1/sites", tags=["sites"])


@router.get(
    "",
    summary="List the sites the caller may see",
    response_model=Page[SiteOut],
    responses=error_responses(401, 422),
)
def list_sites(
    db: DbSession,
    user: CurrentUser,
    page: PageQuery,
    organisation_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Only this organisation's sites.")
    ] = None,
) -> Page[SiteOut]:
    """A requester sees their organisation's sites; a dispatcher those of the
    organisations their service serves; an admin all."""
    query = service.site_query_for(db, user, organisation_id=organisation_id)
    return paginate(db, query, page, order_by=(Site.name, Site.id), item=SiteOut)


@router.get(
    "/{site_id}",
    summary="Read one site",
    response_model=SiteOut,
    responses=error_responses(401, 404, 422),
)
def read_site(db: DbSession, user: CurrentUser, site_id: IdPath) -> SiteOut:
    return SiteOut.model_validate(service.get_visible_site(db, user, site_id))


@router.post(
    "",
    summary="Add a site (admin)",
    status_code=status.HTTP_201_CREATED,
    response_model=SiteOut,
    responses=error_responses(401, 403, 413, 422, 429),
)
def create_site(db: DbSession, admin: AdminUser, body: SiteCreate) -> SiteOut:
    """The point must lie in the service area (latitude 48.8 to 51.6, longitude 1.4 to 6.5)."""
    return SiteOut.model_validate(service.create_site(db, actor=admin, **body.model_dump()))


@router.patch(
    "/{site_id}",
    summary="Change a site (admin)",
    response_model=SiteOut,
    responses=error_responses(401, 403, 404, 413, 422, 429),
)
def update_site(db: DbSession, admin: AdminUser, site_id: IdPath, body: SiteUpdate) -> SiteOut:
    site = service.update_site(
        db,
        actor=admin,
        site=service.get_visible_site(db, admin, site_id),
        changes=body.model_dump(exclude_unset=True),
    )
    return SiteOut.model_validate(site)
