"""Who a connection belongs to.

With auth enabled, the identity the edge guard verified from the token (``guard.EdgeGuard``
stores it in the ASGI scope before any endpoint runs); the ``userId`` parameter is ignored.
With auth disabled (local development only), the ``userId`` parameter.
"""

import secrets

from starlette.requests import HTTPConnection
from starlette.types import Scope
from switchboard_contracts import InvalidIdError, validate_user_id

from switchboard_gateway.edge.tokens import Identity

__all__ = [
    "IDENTITY_SCOPE_KEY",
    "IdentityError",
    "identity_of",
    "missing_scope",
    "resolve_user",
    "team_refusal",
    "token_teams",
]

IDENTITY_SCOPE_KEY = "switchboard.identity"


class IdentityError(ValueError):
    """The request does not identify a user acceptably; the message says why."""


def identity_of(scope: Scope | HTTPConnection) -> Identity | None:
    """The verified identity of the request (auth enabled), else None."""
    found = (scope.scope if isinstance(scope, HTTPConnection) else scope).get(IDENTITY_SCOPE_KEY)
    return found if isinstance(found, Identity) else None


def resolve_user(connection: HTTPConnection, auth_enabled: bool) -> str:
    if auth_enabled:
        identity = identity_of(connection)
        if identity is None:
            raise IdentityError("a valid token is required")
        try:
            return validate_user_id(identity.user_id)
        except InvalidIdError as err:
            raise IdentityError(f"the token's subject is not a usable user id: {err}") from None
    user_id = connection.query_params.get("userId")
    if user_id is None:
        return f"anonymous-{secrets.token_hex(4)}"
    try:
        return validate_user_id(user_id)
    except InvalidIdError as err:
        raise IdentityError(str(err)) from None


def missing_scope(connection: HTTPConnection, auth_enabled: bool, scope: str) -> str | None:
    """Why the caller may not use a service API needing ``scope`` (a service token), or None."""
    if not auth_enabled:
        return None
    identity = identity_of(connection)
    if identity is None or scope not in identity.scopes:
        return f"this needs a service token with the scope {scope!r}"
    return None


def token_teams(connection: HTTPConnection) -> frozenset[str] | None:
    """The teams the token says the caller belongs to (auth enabled), else None."""
    identity = identity_of(connection)
    return identity.teams if identity is not None else None


def team_refusal(identity: Identity | None, auth_enabled: bool, team: str) -> str | None:
    """Why the caller may not see ``team``'s dashboard (not in the token's teams), or None."""
    if not auth_enabled or (identity is not None and team in identity.teams):
        return None
    return f"not a member of team {team}"
