"""Tokens signed with RS256/ES256 keys from a JWKS URL, served by a tiny HTTP server in the test
that counts its fetches: accepted by key id; an HS256 token signed with the public key and a
flood of unknown key ids are refused (401), the flood costing at most one JWKS fetch."""

import asyncio
import json
import secrets
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from switchboard_devstack import Stack
from switchboard_devstack.fixtures import module_stack
from switchboard_devstack.stack import ServiceHandle
from switchboard_devstack.stores import Stores
from switchboard_devstack.tokens import mint
from switchboard_devstack.wsclient import FrameClient, handshake_status

pytestmark = pytest.mark.e2e

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
RSA_KID = "rsa-1"
EC_KID = "ec-1"


def public_jwk(key: Any, kid: str, alg: str) -> dict[str, Any]:
    algorithm = jwt.algorithms.RSAAlgorithm if alg == "RS256" else jwt.algorithms.ECAlgorithm
    jwk: dict[str, Any] = json.loads(algorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "alg": alg, "use": "sig"}


class JwksServer:
    """Serves one JWKS document on a free port and counts the fetches."""

    def __init__(self, document: dict[str, Any]) -> None:
        body = json.dumps(document).encode()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.fetches += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.fetches = 0
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}/.well-known/jwks.json"

    def __enter__(self) -> "JwksServer":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join()


@pytest.fixture(scope="module")
def jwks() -> Iterator[JwksServer]:
    document = {
        "keys": [public_jwk(RSA_KEY, RSA_KID, "RS256"), public_jwk(EC_KEY, EC_KID, "ES256")]
    }
    with JwksServer(document) as server:
        yield server


@pytest.fixture(scope="module")
def stack(stores: Stores, jwks: JwksServer) -> Iterator[Stack]:
    gateway_env = {"AUTH_ENABLED": "true", "JWKS_URL": jwks.url, "JWKS_MIN_REFRESH_SECONDS": "300"}
    with module_stack(
        stores,
        "e2e-edge-jwks",
        *("persistence", "chat", "notification", "gateway"),
        env_of={"gateway": gateway_env},
    ) as running:
        yield running


def signed(sub: str, key: Any, alg: str, kid: str) -> str:
    """A token without audience or issuer (the gateway here checks neither)."""
    return mint(sub, key=key, alg=alg, kid=kid, aud=None, iss=None)


@pytest.mark.parametrize(
    ("key", "alg", "kid"), [(RSA_KEY, "RS256", RSA_KID), (EC_KEY, "ES256", EC_KID)]
)
async def test_a_token_signed_with_a_jwks_key_is_accepted(
    gateway: ServiceHandle, key: Any, alg: str, kid: str
) -> None:
    value = signed("alice", key, alg, kid)
    async with FrameClient(f"{gateway.ws_url}/chat/room-{secrets.token_hex(3)}?token={value}") as c:
        greeting = await c.wait_for("notification")
    assert greeting["payload"]["message"] == "Connected successfully"


async def test_hs256_signed_with_the_rsa_public_key_is_refused(gateway: ServiceHandle) -> None:
    public_pem = RSA_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = {"sub": "mallory", "exp": int(time.time()) + 300}
    # PyJWT refuses to sign HS256 with a PEM key, so the MAC is computed by hand.
    header = {"alg": "HS256", "typ": "JWT", "kid": RSA_KID}
    segments = [jwt.utils.base64url_encode(json.dumps(part).encode()) for part in (header, claims)]
    signing_input = b".".join(segments)
    mac = jwt.algorithms.HMACAlgorithm(jwt.algorithms.HMACAlgorithm.SHA256)
    signature = jwt.utils.base64url_encode(mac.sign(signing_input, public_pem))
    forged = (signing_input + b"." + signature).decode()
    assert await handshake_status(f"{gateway.ws_url}/ws?token={forged}") == 401


async def test_a_flood_of_unknown_key_ids_costs_at_most_one_jwks_fetch(
    gateway: ServiceHandle, jwks: JwksServer
) -> None:
    before = jwks.fetches
    tokens = [signed("mallory", RSA_KEY, "RS256", f"made-up-{i}") for i in range(30)]
    statuses = await asyncio.gather(
        *(handshake_status(f"{gateway.ws_url}/ws?token={value}") for value in tokens)
    )
    assert set(statuses) == {401}
    assert jwks.fetches - before <= 1
    value = signed("alice", RSA_KEY, "RS256", RSA_KID)  # known keys still verify
    async with FrameClient(f"{gateway.ws_url}/ws?token={value}") as alice:
        await alice.wait_for("notification")
