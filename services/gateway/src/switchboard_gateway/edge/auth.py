"""Who is calling: the token of an HTTP request or WebSocket handshake, verified.

The token comes from ``Authorization: Bearer``, else the ``access_token`` cookie, else the
``token`` query parameter (browsers cannot set headers on a WebSocket or an EventSource).
Verification is ``tokens.verify_token``; RS256/ES256 keys come from ``JWKS_URL`` through a
``JwksCache`` (an unknown ``kid`` refetches at most once per ``JWKS_MIN_REFRESH_SECONDS``).
"""

from typing import Any

import httpx
import jwt
from starlette.requests import HTTPConnection

from switchboard_gateway.edge.jwks import JwksCache
from switchboard_gateway.edge.tokens import AuthError, Identity, TokenPolicy, verify_token
from switchboard_gateway.settings import GatewaySettings

__all__ = [
    "SCOPE_BROADCAST",
    "SCOPE_ERASE",
    "SCOPE_MODERATE",
    "SCOPE_ROOMS",
    "SCOPE_SEND",
    "Authenticator",
    "token_of",
]

SCOPE_SEND = "notifications:send"
SCOPE_BROADCAST = "notifications:broadcast"
SCOPE_ROOMS = "rooms:manage"
SCOPE_MODERATE = "rooms:moderate"
"""Edit and delete any member's messages, not only one's own (docs/protocol.md §2)."""
SCOPE_ERASE = "users:erase"
"""Erase a user's content everywhere (docs/protocol.md §4, "Erase a user"); service tokens."""

JWKS_FETCH_TIMEOUT_SECONDS = 5.0


def token_of(connection: HTTPConnection) -> str | None:
    """The token the request carries: header, then cookie, then query parameter."""
    header = connection.headers.get("authorization")
    if header is not None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    cookie = connection.cookies.get("access_token")
    if cookie:
        return cookie
    return connection.query_params.get("token") or None


class Authenticator:
    def __init__(self, settings: GatewaySettings) -> None:
        self.policy = TokenPolicy(
            secret=settings.jwt_secret,
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            leeway_seconds=settings.jwt_leeway_seconds,
        )
        self._jwks_url = settings.jwks_url
        self.jwks = (
            JwksCache(self._fetch_jwks, settings.jwks_min_refresh_seconds)
            if settings.jwks_url
            else None
        )

    async def _fetch_jwks(self) -> dict[str, Any]:
        assert self._jwks_url is not None
        async with httpx.AsyncClient(timeout=JWKS_FETCH_TIMEOUT_SECONDS) as client:
            response = await client.get(self._jwks_url)
            response.raise_for_status()
            document = response.json()
        if not isinstance(document, dict):
            raise TypeError("the JWKS is not a JSON object")
        return document

    async def _lookup(self, kid: str) -> jwt.PyJWK | None:
        assert self.jwks is not None
        return await self.jwks.key(kid)

    async def verify(self, token: str) -> Identity:
        """The identity the token proves, or ``AuthError`` naming the problem."""
        return await verify_token(token, self.policy, self._lookup if self.jwks else None)

    async def identify(self, connection: HTTPConnection) -> Identity:
        token = token_of(connection)
        if token is None:
            raise AuthError(
                "a token is required (Authorization: Bearer, the access_token cookie "
                "or the token query parameter)"
            )
        return await self.verify(token)
