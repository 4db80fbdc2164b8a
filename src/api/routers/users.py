"""Users (admin): who may sign in, in which organisation and role."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from api.auth import AdminUser
from api.deps import DbSession
from api.schemas.common import MAX_ID, IdPath, Page, PageQuery, error_responses, paginate
from api.schemas.users import UserCreate, UserOut, UserUpdate
from booking.users import service
from booking.users.models import User
from booking.vocabulary import UserRole

router = APIRouter(prefix="/api/v1/users", tags=["users"])


@router.get(
    "",
    summary="List users (admin)",
    response_model=Page[UserOut],
    responses=error_responses(401, 403, 422),
)
def list_users(
    db: DbSession,
    admin: AdminUser,
    page: PageQuery,
    organisation_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    role: UserRole | None = None,
) -> Page[UserOut]:
    query = service.user_query(db, organisation_id=organisation_id)
    if role is not None:
        query = query.where(User.role == role)
    return paginate(db, query, page, order_by=(User.email, User.id), item=UserOut)


@router.get(
    "/{user_id}",
    summary="Read one user (admin)",
    response_model=UserOut,
    responses=error_responses(401, 403, 404, 422),
)
def read_user(db: DbSession, admin: AdminUser, user_id: IdPath) -> UserOut:
    return UserOut.model_validate(service.get_user(db, user_id))


@router.post(
    "",
    summary="Add a user (admin)",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    responses=error_responses(401, 403, 409, 413, 422, 429),
)
def create_user(db: DbSession, admin: AdminUser, body: UserCreate) -> UserOut:
    """The email is stored lower-case; the phone in E.164, a national number being read
    in the organisation's country. The role must fit the organisation: requesters in a
    requesting organisation, dispatchers and providers in a providing service."""
    user = service.create_user(db, actor=admin, **body.model_dump())
    return UserOut.model_validate(user)


@router.patch(
    "/{user_id}",
    summary="Change a user (admin)",
    response_model=UserOut,
    responses=error_responses(401, 403, 404, 409, 413, 422, 429),
)
def update_user(db: DbSession, admin: AdminUser, user_id: IdPath, body: UserUpdate) -> UserOut:
    """Deactivating a user (``is_active: false``) also revokes their API tokens."""
    user = service.update_user(
        db,
        actor=admin,
        user=service.get_user(db, user_id),
        changes=body.model_dump(exclude_unset=True),
    )
    return UserOut.model_validate(user)


@router.post(
    "/{user_id}/sign-out",
    summary="Sign a user out everywhere (admin): end every web session",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(401, 403, 404, 422, 429),
)
def sign_out_everywhere(db: DbSession, admin: AdminUser, user_id: IdPath) -> Response:
    """Every session cookie of the user stops working on its next request, on every browser
    (a lost phone, a shared computer). Their API tokens are separate credentials: revoke
    them with `DELETE /tokens/{id}`, or deactivate the user to stop both."""
    service.end_web_sessions(
        db, actor=admin, user=service.get_user(db, user_id), action="user.signed_out_everywhere"
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
