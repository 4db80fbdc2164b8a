"""Organisations and the service agreements between them (admins change; everyone reads theirs)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from api.auth import AdminUser, CurrentUser
from api.deps import DbSession
from api.schemas.common import IdPath, Page, PageQuery, error_responses, paginate
from api.schemas.organisations import (
    AgreementCreate,
    AgreementOut,
    OrganisationCreate,
    OrganisationOut,
    OrganisationUpdate,
)
from booking.organisations import service
from booking.organisations.models import Organisation, ServiceAgreement
from booking.vocabulary import OrganisationKind

router = APIRouter(prefix="/api/v1/organisations", tags=["organisations"])


@router.get(
    "",
    summary="List the organisations the caller may see",
    response_model=Page[OrganisationOut],
    responses=error_responses(401, 422),
)
def list_organisations(
    db: DbSession,
    user: CurrentUser,
    page: PageQuery,
    kind: Annotated[OrganisationKind | None, Query(description="Only this kind.")] = None,
) -> Page[OrganisationOut]:
    """An admin sees all; a dispatcher their service and the organisations it serves;
    others their own organisation."""
    query = service.organisation_query_for(db, user, kind=kind)
    return paginate(
        db, query, page, order_by=(Organisation.name, Organisation.id), item=OrganisationOut
    )


@router.get(
    "/{organisation_id}",
    summary="Read one organisation",
    response_model=OrganisationOut,
    responses=error_responses(401, 404, 422),
)
def read_organisation(db: DbSession, user: CurrentUser, organisation_id: IdPath) -> OrganisationOut:
    return OrganisationOut.model_validate(
        service.get_visible_organisation(db, user, organisation_id)
    )


@router.post(
    "",
    summary="Add an organisation (admin)",
    status_code=status.HTTP_201_CREATED,
    response_model=OrganisationOut,
    responses=error_responses(401, 403, 413, 422, 429),
)
def create_organisation(
    db: DbSession, admin: AdminUser, body: OrganisationCreate
) -> OrganisationOut:
    organisation = service.create_organisation(db, actor=admin, **body.model_dump())
    return OrganisationOut.model_validate(organisation)


@router.patch(
    "/{organisation_id}",
    summary="Change an organisation (admin)",
    response_model=OrganisationOut,
    responses=error_responses(401, 403, 404, 413, 422, 429),
)
def update_organisation(
    db: DbSession, admin: AdminUser, organisation_id: IdPath, body: OrganisationUpdate
) -> OrganisationOut:
    organisation = service.update_organisation(
        db,
        actor=admin,
        organisation=service.get_visible_organisation(db, admin, organisation_id),
        changes=body.model_dump(exclude_unset=True),
    )
    return OrganisationOut.model_validate(organisation)


@router.get(
    "/{organisation_id}/agreements",
    summary="List the service agreements of an organisation",
    response_model=Page[AgreementOut],
    responses=error_responses(401, 404, 422),
)
def list_agreements(
    db: DbSession, user: CurrentUser, organisation_id: IdPath, page: PageQuery
) -> Page[AgreementOut]:
    """Which providing service serves which requesting organisation, for one party."""
    organisation = service.get_visible_organisation(db, user, organisation_id)
    query = service.agreement_query(db, organisation_id=organisation.id)
    return paginate(db, query, page, order_by=(ServiceAgreement.id,), item=AgreementOut)


@router.post(
    "/{organisation_id}/agreements",
    summary="Let a providing service serve a requesting organisation (admin)",
    status_code=status.HTTP_201_CREATED,
    response_model=AgreementOut,
    responses=error_responses(401, 403, 404, 409, 413, 422, 429),
)
def create_agreement(
    db: DbSession, admin: AdminUser, organisation_id: IdPath, body: AgreementCreate
) -> AgreementOut:
    """``organisation_id`` is the providing service; its dispatchers will see and staff
    the requesting organisation's bookings."""
    agreement = service.create_agreement(
        db,
        actor=admin,
        providing=service.get_visible_organisation(db, admin, organisation_id),
        requesting_org_id=body.requesting_organisation_id,
    )
    return AgreementOut.model_validate(agreement)


@router.delete(
    "/{organisation_id}/agreements/{agreement_id}",
    summary="End a service agreement (admin)",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(401, 403, 404, 422, 429),
)
def delete_agreement(
    db: DbSession, admin: AdminUser, organisation_id: IdPath, agreement_id: IdPath
) -> Response:
    service.delete_agreement(
        db,
        actor=admin,
        organisation=service.get_visible_organisation(db, admin, organisation_id),
        agreement_id=agreement_id,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
