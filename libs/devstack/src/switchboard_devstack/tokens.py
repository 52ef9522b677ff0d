"""Tokens for tests of a gateway with auth on: HS256, signed with a test secret."""

import json
import time
from typing import Any

import jwt

__all__ = [
    "TEST_AUDIENCE",
    "TEST_ISSUER",
    "TEST_SECRET",
    "auth_env",
    "bearer",
    "mint",
    "service",
    "unsigned",
]

TEST_SECRET = "test-secret-" + "x" * 32
TEST_AUDIENCE = "switchboard"
TEST_ISSUER = "https://issuer.test"


def auth_env() -> dict[str, str]:
    """A gateway's settings for auth on, with the audience and issuer checked."""
    return {
        "AUTH_ENABLED": "true",
        "JWT_SECRET": TEST_SECRET,
        "JWT_AUDIENCE": TEST_AUDIENCE,
        "JWT_ISSUER": TEST_ISSUER,
    }


def mint(
    sub: str,
    *,
    ttl: float = 300,
    key: Any = TEST_SECRET,
    alg: str = "HS256",
    kid: str | None = None,
    **claims: Any,
) -> str:
    """A token for ``sub``, signed with ``key`` (the test secret, or a private key for RS256 or
    ES256, named by ``kid``); a claim given as None is left out."""
    now = time.time()
    payload: dict[str, Any] = {
        "sub": sub,
        "aud": TEST_AUDIENCE,
        "iss": TEST_ISSUER,
        "iat": int(now),
        "exp": now + ttl,
    }
    payload.update(claims)
    headers = {"kid": kid} if kid is not None else None
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, key, alg, headers)


def bearer(sub: str, **claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(sub, **claims)}"}


def service(*scopes: str) -> dict[str, str]:
    """The headers of a backend service calling with ``scopes``."""
    return bearer("backend-service", scope=" ".join(scopes))


def unsigned(sub: str) -> str:
    """A token for ``sub`` with ``alg: none`` and no signature, otherwise valid."""
    header = jwt.utils.base64url_encode(b'{"alg":"none","typ":"JWT"}').decode()
    claims = {"sub": sub, "aud": TEST_AUDIENCE, "iss": TEST_ISSUER, "exp": int(time.time()) + 300}
    body = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    return f"{header}.{body}."
