"""Each hostile token is refused with a reason; good ones prove their subject, scopes and teams."""

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from switchboard_gateway.edge.tokens import AuthError, TokenPolicy, verify_token

SECRET = "s3cret-for-tests-only-32-bytes-long!"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
POLICY = TokenPolicy(
    secret=SECRET, audience="switchboard", issuer="https://issuer.test", leeway_seconds=5
)


def public_jwk(key: Any, kid: str) -> jwt.PyJWK:
    data = json.loads(
        jwt.algorithms.get_default_algorithms()[
            "RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256"
        ].to_jwk(key.public_key())
    )
    data["kid"] = kid
    return jwt.PyJWK(data)


KEYS = {"rsa-1": public_jwk(RSA_KEY, "rsa-1"), "ec-1": public_jwk(EC_KEY, "ec-1")}


async def lookup(kid: str) -> jwt.PyJWK | None:
    return KEYS.get(kid)


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "sub": "alice",
        "aud": "switchboard",
        "iss": "https://issuer.test",
        "iat": now,
        "exp": now + 300,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


async def verify(token: str) -> Any:
    return await verify_token(token, POLICY, lookup)


async def test_hs256_token_with_the_secret_proves_its_subject_scopes_and_teams() -> None:
    token = jwt.encode(
        claims(scope="notify:send rooms:manage", teams=["ops", "dev"]), SECRET, "HS256"
    )
    identity = await verify(token)
    assert identity.user_id == "alice"
    assert identity.scopes == {"notify:send", "rooms:manage"}
    assert identity.teams == {"ops", "dev"}


async def test_identities_with_the_same_scopes_and_teams_share_their_sets() -> None:
    """Each connection keeps its identity: equal sets are one object, not one per connection."""
    first, second = [
        await verify(jwt.encode(claims(sub=user, scope="a b", teams=["t"]), SECRET, "HS256"))
        for user in ("alice", "bob")
    ]
    assert first.scopes is second.scopes
    assert first.teams is second.teams
    plain = await verify(jwt.encode(claims(), SECRET, "HS256"))
    assert plain.scopes == plain.teams == frozenset()


@pytest.mark.parametrize(
    ("key", "algorithm", "kid"), [(RSA_KEY, "RS256", "rsa-1"), (EC_KEY, "ES256", "ec-1")]
)
async def test_asymmetric_tokens_verify_with_the_jwks_key_of_their_kid(
    key: Any, algorithm: str, kid: str
) -> None:
    token = jwt.encode(claims(), key, algorithm, headers={"kid": kid})
    assert (await verify(token)).user_id == "alice"


@pytest.mark.parametrize(
    ("token_claims", "reason"),
    [  # built when the test runs: at collection, "now" may be minutes earlier in a long run
        (lambda: claims(exp=int(time.time()) - 60), "expired"),
        (lambda: claims(nbf=int(time.time()) + 60), "not valid yet"),
        (lambda: claims(aud="someone-else"), "audience"),
        (lambda: claims(iss="https://evil.test"), "issuer"),
        (lambda: claims(exp=None), "'exp'"),
        (lambda: claims(sub=None), "'sub'"),
    ],
    ids=["expired", "not-yet-valid", "wrong-audience", "wrong-issuer", "no-exp", "no-sub"],
)
async def test_tokens_with_bad_claims_are_refused_naming_the_claim(
    token_claims: Callable[[], dict[str, Any]], reason: str
) -> None:
    with pytest.raises(AuthError, match=reason):
        await verify(jwt.encode(token_claims(), SECRET, "HS256"))


async def test_expiry_within_the_leeway_is_accepted() -> None:
    await verify(jwt.encode(claims(exp=int(time.time()) - 2), SECRET, "HS256"))


def unsigned(token_claims: dict[str, Any], header: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(token_claims)}."


async def test_alg_none_is_refused() -> None:
    with pytest.raises(AuthError, match="algorithm 'none'"):
        await verify(unsigned(claims(), {"alg": "none", "typ": "JWT"}))


async def test_hs256_signed_with_the_rsa_public_key_is_refused() -> None:
    """The classic confusion: the attacker signs HS256 with the public key as the MAC secret."""
    public_pem = RSA_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "kid": "rsa-1", "typ": "JWT"}
    signing_input = unsigned(claims(), header).rstrip(".")
    signature = jwt.algorithms.HMACAlgorithm(jwt.algorithms.HMACAlgorithm.SHA256).sign(
        signing_input.encode(), public_pem
    )
    token = signing_input + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
    with pytest.raises(AuthError, match="signature"):
        await verify(token)


async def test_hs256_is_refused_when_no_secret_is_configured() -> None:
    token = jwt.encode(claims(), SECRET, "HS256")
    with pytest.raises(AuthError, match="algorithm 'HS256'"):
        await verify_token(
            token, TokenPolicy(audience="switchboard", issuer="https://issuer.test"), lookup
        )


async def test_an_unknown_kid_is_refused() -> None:
    token = jwt.encode(claims(), RSA_KEY, "RS256", headers={"kid": "made-up"})
    with pytest.raises(AuthError, match="key id is unknown"):
        await verify(token)


async def test_a_token_signed_by_another_key_is_refused() -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(AuthError, match="signature"):
        await verify(jwt.encode(claims(), other, "RS256", headers={"kid": "rsa-1"}))


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "x" * 5000])
async def test_garbage_is_refused_as_malformed(garbage: str) -> None:
    with pytest.raises(AuthError):
        await verify(garbage)


async def test_hs384_is_not_on_the_allow_list() -> None:
    with pytest.raises(AuthError, match="HS384"):
        await verify(jwt.encode(claims(), SECRET * 2, "HS384"))
