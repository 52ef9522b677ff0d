"""Tokens for tests of a gateway with auth on: HS256, signed with a test secret."""

import time
from typing import Any

import jwt

__all__ = ["TEST_AUDIENCE", "TEST_ISSUER", "TEST_SECRET", "auth_env", "bearer", "mint"]

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


def mint(sub: str, *, ttl: float = 300, key: str = TEST_SECRET, **claims: Any) -> str:
    """A token for ``sub``; a claim given as None is left out."""
    now = time.time()
    payload: dict[str, Any] = {
        "sub": sub,
        "aud": TEST_AUDIENCE,
        "iss": TEST_ISSUER,
        "iat": int(now),
        "exp": now + ttl,
    }
    payload.update(claims)
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, key, "HS256")


def bearer(sub: str, **claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(sub, **claims)}"}
