"""The edge guard and the Authenticator on a tiny app, called in process through httpx."""

import time
from collections.abc import AsyncIterator

import httpx
import jwt
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route
from switchboard_gateway.edge.auth import Authenticator
from switchboard_gateway.edge.guard import EdgeGuard
from switchboard_gateway.edge.identity import identity_of, missing_scope
from switchboard_gateway.edge.limits import UserCounter
from switchboard_gateway.edge.origins import OriginPolicy
from switchboard_gateway.settings import GatewaySettings

SECRET = "s" * 40


def make_token(sub: str = "alice", **claims: object) -> str:
    return jwt.encode({"sub": sub, "exp": time.time() + 60, **claims}, SECRET, "HS256")


def make_app(auth: bool = True, origins: tuple[str, ...] = ()) -> Starlette:
    settings = GatewaySettings(auth_enabled=auth, jwt_secret=SECRET if auth else None)

    async def whoami(request: Request) -> JSONResponse:
        identity = identity_of(request)
        return JSONResponse(
            {
                "user": identity.user_id if identity else None,
                "send": missing_scope(request, auth, "notifications:send") is None,
            }
        )

    async def echo(request: Request) -> PlainTextResponse:
        return PlainTextResponse(str(len(await request.body())))

    return Starlette(
        routes=[
            Route("/api/whoami", whoami),
            Route("/api/echo", echo, methods=["POST"]),
            Route("/healthz", lambda _: PlainTextResponse("ok")),
        ],
        middleware=[
            Middleware(
                EdgeGuard,
                authenticator=Authenticator(settings) if auth else None,
                origins=OriginPolicy(origins),
                max_body_bytes=1024,
                streams=UserCounter(1),
            )
        ],
    )


def client_for(app: Starlette, cookies: dict[str, str] | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway", cookies=cookies
    )


def test_settings_refuse_auth_without_a_key() -> None:
    with pytest.raises(ValueError, match="JWT_SECRET or JWKS_URL"):
        GatewaySettings(auth_enabled=True)


@pytest.mark.parametrize("where", ["header", "cookie", "query"])
async def test_the_token_is_read_from_header_cookie_or_query(where: str) -> None:
    token = make_token()  # minted as the test runs: one made at collection may have expired
    headers = {"Authorization": f"Bearer {token}"} if where == "header" else {}
    cookies = {"access_token": token} if where == "cookie" else {}
    query = f"?token={token}" if where == "query" else ""
    client = client_for(make_app(), cookies)
    answer = await client.get(f"/api/whoami{query}", headers=headers)
    assert answer.json() == {"user": "alice", "send": False}


async def test_no_token_is_401_and_unguarded_paths_pass() -> None:
    client = client_for(make_app())
    answer = await client.get("/api/whoami")
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert (await client.get("/healthz")).status_code == 200


async def test_a_service_scope_comes_from_the_scope_claim() -> None:
    client = client_for(make_app())
    token = make_token("backend", scope="notifications:send rooms:manage")
    answer = await client.get(f"/api/whoami?token={token}")
    assert answer.json() == {"user": "backend", "send": True}


async def test_a_subject_that_is_no_user_id_is_401() -> None:
    client = client_for(make_app())
    assert (await client.get(f"/api/whoami?token={make_token('a b/c')}")).status_code == 401


async def test_a_foreign_origin_is_403_and_a_listed_one_passes() -> None:
    client = client_for(make_app(auth=False, origins=("https://app.example",)))
    assert (
        await client.get("/api/whoami", headers={"Origin": "https://evil.example"})
    ).status_code == 403
    assert (
        await client.get("/api/whoami", headers={"Origin": "https://app.example"})
    ).status_code == 200
    assert (await client.get("/api/whoami")).status_code == 200  # not a browser


async def test_bodies_over_the_limit_are_413_declared_or_streamed() -> None:
    client = client_for(make_app(auth=False))
    assert (await client.post("/api/echo", content=b"x" * 2000)).status_code == 413

    async def chunks() -> AsyncIterator[bytes]:
        yield b"x" * 600
        yield b"x" * 600

    assert (await client.post("/api/echo", content=chunks())).status_code == 413
    assert (await client.post("/api/echo", content=b"x" * 100)).text == "100"


async def test_with_auth_disabled_nobody_is_identified_and_everything_passes() -> None:
    client = client_for(make_app(auth=False))
    assert (await client.get("/api/whoami")).json() == {"user": None, "send": True}
