"""API tokens (admin): issue one for a user, list them, revoke one."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from api.auth import AdminUser
from api.deps import DbSession
from api.schemas.common import IdPath, Page, PageQuery, error_responses, paginate
from api.schemas.users import TokenCreate, TokenCreated, TokenOut
from booking.users import service
from booking.users.models import ApiToken

router = APIRouter(prefix="/api/v1", tags=["tokens"])


@router.post(
    "/users/{user_id}/tokens",
    summary="Issue an API token for a user (admin)",
    status_code=status.HTTP_201_CREATED,
    response_model=TokenCreated,
    responses=error_responses(401, 403, 404, 413, 422, 429),
)
def create_token(
    db: DbSession, admin: AdminUser, user_id: IdPath, body: TokenCreate
) -> TokenCreated:
    """The answer holds the token itself, once: only its hash is stored."""
    row, token = service.create_token(
        db,
        actor=admin,
        user=service.get_user(db, user_id),
        name=body.name,
        expires_at=body.expires_at,
    )
    return TokenCreated(**TokenOut.model_validate(row).model_dump(), token=token)


@router.get(
    "/users/{user_id}/tokens",
    summary="List a user's API tokens (admin)",
    response_model=Page[TokenOut],
    responses=error_responses(401, 403, 404, 422),
)
def list_tokens(
    db: DbSession, admin: AdminUser, user_id: IdPath, page: PageQuery
) -> Page[TokenOut]:
    """Revoked and expired tokens are listed too; the tokens themselves never are."""
    user = service.get_user(db, user_id)
    query = service.token_query(db, user_id=user.id)
    return paginate(db, query, page, order_by=(ApiToken.id,), item=TokenOut)


@router.delete(
    "/tokens/{token_id}",
    summary="Revoke an API token (admin)",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(401, 403, 404, 422, 429),
)
def revoke_token(db: DbSession, admin: AdminUser, token_id: IdPath) -> Response:
    """Takes effect on the next request; revoking twice is harmless."""
    service.revoke_token(db, actor=admin, token=service.get_token(db, token_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
