"""Verifying a client's JWT. The decision is made here, with no I/O: keys come from a ``KeySource``.

Accepted: HS256 with the configured secret, RS256 and ES256 with a key from the JWKS by ``kid``.
The algorithm allow-list is fixed; ``none`` and a MAC algorithm where a public key is expected
never verify, because the key is chosen by the algorithm's family, never by the token.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import jwt

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "SYMMETRIC_ALGORITHMS",
    "AuthError",
    "Identity",
    "KeyLookup",
    "TokenPolicy",
    "verify_token",
]

SYMMETRIC_ALGORITHMS = frozenset({"HS256"})
ASYMMETRIC_ALGORITHMS = frozenset({"RS256", "ES256"})

KeyLookup = Callable[[str], Awaitable[jwt.PyJWK | None]]
"""Finds the JWKS key with a ``kid`` (refreshing the set at a bounded rate), or None."""


class AuthError(Exception):
    """The request's credentials are not acceptable; the message says why (safe to show)."""


@dataclass(frozen=True)
class TokenPolicy:
    secret: str | None = None
    audience: str | None = None
    issuer: str | None = None
    leeway_seconds: float = 30.0


@dataclass(frozen=True, slots=True)
class Identity:
    """What a verified token proves; kept in the scope for the connection's lifetime, so only
    the claims the gateway uses (not the whole decoded token: memory per idle connection)."""

    user_id: str
    expires_at: float | None = None
    scopes: frozenset[str] = frozenset()
    teams: frozenset[str] = frozenset()


def _header(token: str) -> dict[str, Any]:
    try:
        return jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise AuthError("the token is not a well-formed JWT") from None


_NO_WORDS: frozenset[str] = frozenset()
_SHARED_WORDS: dict[frozenset[str], frozenset[str]] = {}
MAX_SHARED_WORDS = 4096


def _words(value: object) -> frozenset[str]:
    """A claim's words, as one frozenset shared by every identity with the same ones (each
    connection keeps its ``Identity``: 0.2 KB per set otherwise)."""
    if isinstance(value, str):
        words = frozenset(value.split())
    elif isinstance(value, list):
        words = frozenset(str(v) for v in value)
    else:
        return _NO_WORDS
    if not words:
        return _NO_WORDS
    shared = _SHARED_WORDS.get(words)
    if shared is not None:
        return shared
    if len(_SHARED_WORDS) < MAX_SHARED_WORDS:
        _SHARED_WORDS[words] = words
    return words


async def _key_for(header: dict[str, Any], policy: TokenPolicy, lookup: KeyLookup | None) -> Any:
    """The key for the token's algorithm family: the secret for HS256, the JWKS for the rest."""
    algorithm = header.get("alg")
    if algorithm in SYMMETRIC_ALGORITHMS and policy.secret:
        return policy.secret
    if algorithm in ASYMMETRIC_ALGORITHMS and lookup is not None:
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise AuthError("the token has no key id (kid)")
        found = await lookup(kid)
        if found is None:
            raise AuthError("the token's key id is unknown")
        return found
    raise AuthError(f"the token's algorithm {str(algorithm)[:20]!r} is not accepted")


async def verify_token(token: str, policy: TokenPolicy, lookup: KeyLookup | None) -> Identity:
    """The identity a valid token proves, or ``AuthError`` naming what is wrong."""
    header = _header(token)
    algorithm = str(header.get("alg"))
    key = await _key_for(header, policy, lookup)
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=policy.audience,
            issuer=policy.issuer,
            leeway=policy.leeway_seconds,
            options={"require": ["exp", "sub"], "verify_aud": policy.audience is not None},
        )
    except jwt.ExpiredSignatureError:
        raise AuthError("the token has expired") from None
    except jwt.ImmatureSignatureError:
        raise AuthError("the token is not valid yet") from None
    except jwt.InvalidAudienceError:
        raise AuthError("the token is for another audience") from None
    except jwt.InvalidIssuerError:
        raise AuthError("the token is from another issuer") from None
    except jwt.MissingRequiredClaimError as err:
        raise AuthError(f"the token lacks the {err.claim!r} claim") from None
    except jwt.InvalidSignatureError:
        raise AuthError("the token's signature does not verify") from None
    except jwt.PyJWTError:
        raise AuthError("the token is invalid") from None
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise AuthError("the token's subject (sub) must be a non-empty string")
    expires = claims.get("exp")
    return Identity(
        user_id=subject,
        expires_at=float(expires) if isinstance(expires, int | float) else None,
        scopes=_words(claims.get("scope")),
        teams=_words(claims.get("teams")),
    )
