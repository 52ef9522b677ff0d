"""The OpenAPI document matches the app: every route documented, nothing documented unserved."""

import re
from typing import Any

import httpx
import pytest
import schemathesis
from starlette.routing import Route
from switchboard_gateway.app import create_app
from switchboard_gateway.openapi import OPENAPI_PATH, openapi_document
from switchboard_gateway.settings import GatewaySettings

SECRET = "s" * 40
METHODS = {"get", "post", "put", "patch", "delete"}


def shape(path: str) -> str:
    """A path with its parameters unnamed: ``/api/rooms/{}/messages``."""
    return re.sub(r"\{[^}]+\}", "{}", path)


def served(settings: GatewaySettings) -> set[tuple[str, str]]:
    """(path shape, method) of every HTTP route the app serves, the demo page's files aside."""
    app = create_app(settings)
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        if isinstance(route, Route):
            for method in route.methods or ():
                if method.lower() in METHODS:
                    found.add((shape(route.path), method.lower()))
    return found


def documented(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (shape(path), method)
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    }


@pytest.mark.parametrize("auth", [True, False])
def test_every_route_is_documented_and_every_documented_path_is_served(auth: bool) -> None:
    settings = GatewaySettings(auth_enabled=auth, jwt_secret=SECRET if auth else None)
    assert documented(openapi_document(settings)) == served(settings)


def test_path_parameters_are_declared_for_every_templated_path() -> None:
    document = openapi_document(GatewaySettings())
    for path, item in document["paths"].items():
        named = set(re.findall(r"\{([^}]+)\}", path))
        for operation in item.values():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == named, path


def test_the_document_is_valid_openapi_3_1() -> None:
    document = openapi_document(GatewaySettings())
    assert document["openapi"].startswith("3.1")
    schema = schemathesis.openapi.from_dict(document)
    schema.validate()  # against the OpenAPI 3.1 meta-schema; raises naming what is wrong


def test_an_invalid_document_would_be_refused() -> None:
    document = openapi_document(GatewaySettings())
    document["paths"]["/healthz"]["get"]["responses"]["200"] = {"content": {}}  # no description
    with pytest.raises(Exception, match="description"):
        schemathesis.openapi.from_dict(document).validate()


def test_ids_bodies_and_errors_carry_their_limits() -> None:
    schemas = openapi_document(GatewaySettings())["components"]["schemas"]
    assert schemas["RoomCreate"]["properties"]["id"]["pattern"] == "^[A-Za-z0-9_\\-]{1,64}$"
    assert schemas["RoomCreate"]["properties"]["name"]["maxLength"] == 100
    assert schemas["NotificationSend"]["properties"]["title"]["maxLength"] == 200
    assert schemas["NotificationSend"]["properties"]["message"]["maxLength"] == 5000
    assert schemas["NotificationSend"]["properties"]["type"]["enum"] == [
        "info",
        "warning",
        "error",
        "success",
    ]
    assert schemas["Error"]["required"] == ["error"]


async def test_the_gateway_serves_it_without_a_token() -> None:
    settings = GatewaySettings(auth_enabled=True, jwt_secret=SECRET)
    transport = httpx.ASGITransport(create_app(settings))  # no lifespan: nothing else is needed
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        answer = await client.get(OPENAPI_PATH)
    assert answer.status_code == 200
    assert answer.json() == openapi_document(settings)
    assert answer.json()["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
