"""Who a connection belongs to. With auth disabled (local development) the ``userId`` parameter."""

import secrets

from starlette.requests import HTTPConnection
from switchboard_contracts import InvalidIdError, validate_user_id

__all__ = ["IdentityError", "resolve_user"]


class IdentityError(ValueError):
    """The request does not identify a user acceptably; the message says why."""


def resolve_user(connection: HTTPConnection, auth_enabled: bool) -> str:
    if auth_enabled:
        raise IdentityError(
            "token authentication is not available in this build; disable AUTH_ENABLED"
        )
    user_id = connection.query_params.get("userId")
    if user_id is None:
        return f"anonymous-{secrets.token_hex(4)}"
    try:
        return validate_user_id(user_id)
    except InvalidIdError as err:
        raise IdentityError(str(err)) from None
