"""The gateway's HTTP API, fuzzed from its own OpenAPI document (schemathesis), with auth on.

A real gateway, chat, notification and persistence on real NATS and PostgreSQL. Every operation
of ``/openapi.json`` (the document is built at import, for parametrisation, and checked equal to
what the running gateway serves) gets valid and invalid requests, with a token holding every
scope. Hostile strings included: the document allows any string where the gateway takes text,
so schemathesis generates NUL itself (``allow_x00``); Hypothesis never draws lone surrogates,
so hooks put NUL and surrogates into generated bodies' strings and NUL into query values.
Each answer must be documented and never a server error: its status code, content type and
body schema are those the document gives for the operation. Traffic goes to
127.0.0.1 only. Bounded: ``MAX_EXAMPLES`` per operation and phase, SSE streams read for
``STREAM_READ_SECONDS``, long-polls capped to ``POLL_TIMEOUT_SECONDS``.
"""

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode, HookContext
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from switchboard_devstack.fixtures import stack_fixture
from switchboard_devstack.stack import ServiceHandle
from switchboard_devstack.tokens import (
    TEST_AUDIENCE,
    TEST_ISSUER,
    TEST_SECRET,
    auth_env,
    mint,
)
from switchboard_gateway.openapi import openapi_document
from switchboard_gateway.settings import GatewaySettings

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]  # per operation: 1-15 s each here

MAX_EXAMPLES = 50
STREAM_READ_SECONDS = 0.25
POLL_TIMEOUT_SECONDS = 0.2
REQUEST_TIMEOUT_SECONDS = 15.0
FUZZ_TEAMS = "ops payments"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


def service_token() -> str:
    return mint(
        "fuzzer",
        ttl=3600,
        scope="notifications:send notifications:broadcast rooms:manage",
        teams=FUZZ_TEAMS,
    )


GATEWAY_ENV = {
    **auth_env(),
    "MAX_STREAMS_PER_USER": "1000",  # sequential requests; a released slot may lag behind
}
stack = stack_fixture(
    "e2e-edge-fuzz",
    "persistence",
    "chat",
    "notification",
    "gateway",
    # random message ids: chat need not wait for them to be stored before answering not_found
    env_of={"gateway": GATEWAY_ENV, "chat": {"CHANGE_TARGET_WAIT_SECONDS": "0"}},
)
DOCUMENT = openapi_document(
    GatewaySettings(
        auth_enabled=True,
        jwt_secret=TEST_SECRET,
        jwt_audience=TEST_AUDIENCE,
        jwt_issuer=TEST_ISSUER,
        max_streams_per_user=1000,
    )
)
schema = schemathesis.openapi.from_dict(DOCUMENT)
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
    max_examples=MAX_EXAMPLES,
    codec=None,  # any code point, lone surrogates included (the default is UTF-8 only)
    allow_x00=True,
    deterministic=True,  # the same cases each run: a failure reproduces
    no_shrink=True,
)


def read_timeout(case: Case[Any]) -> float:
    if case.path.endswith("/stream"):
        return STREAM_READ_SECONDS  # an endless stream: read what comes first, then cut it
    return REQUEST_TIMEOUT_SECONDS


def bounded_poll(case: Case[Any]) -> None:
    """A long-poll waits up to its ``timeout`` (25 s by default): keep valid ones short."""
    if case.path != "/api/notifications/poll":
        return
    query = case.query if isinstance(case.query, dict) else {}
    raw = query.get("timeout")
    try:
        wait = float(raw) if raw is not None else None
    except (TypeError, ValueError):
        wait = None
    if raw is None or (wait is not None and wait == wait and POLL_TIMEOUT_SECONDS < wait <= 30):
        query["timeout"] = POLL_TIMEOUT_SECONDS
        case.query = query


async def test_the_gateway_serves_the_document_fuzzed_here(gateway: ServiceHandle) -> None:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as http:
        served = await http.get("/openapi.json")
    assert served.status_code == 200
    assert served.json() == DOCUMENT


LONE_SURROGATES = st.integers(0xD800, 0xDFFF).map(chr)
HOSTILE_TEXT = st.one_of(
    st.sampled_from(["\x00", "a\x00b", "\ud800", "x\udfffy", "\udbff\udc00", "\x00\ud800"]),
    st.tuples(st.text(max_size=8), LONE_SURROGATES | st.just("\x00"), st.text(max_size=8)).map(
        "".join
    ),
)


def with_hostile_text(value: Any, text: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    """``value`` as generated, or with one of its top-level strings replaced by ``text``."""
    if not isinstance(value, dict):
        return st.just(value)
    keys = sorted(key for key, item in value.items() if isinstance(item, str))
    if not keys:
        return st.just(value)
    replaced = st.tuples(st.sampled_from(keys), text).map(
        lambda change: {**value, change[0]: change[1]}
    )
    return st.just(value) | replaced


@schema.hook
def flatmap_body(context: HookContext, body: Any) -> st.SearchStrategy[Any]:
    return with_hostile_text(body, HOSTILE_TEXT)


@schema.hook
def flatmap_query(context: HookContext, query: dict[str, Any]) -> st.SearchStrategy[Any]:
    # A query string is UTF-8 on the wire: a lone surrogate cannot even be sent; NUL can (%00).
    return with_hostile_text(query, st.sampled_from(["\x00", "1\x00", "a\x00b"]))


SENT: Counter[str] = Counter()
"""What the fuzzer sent and got, by kind: ``fuzzing_was_hostile`` checks it was hostile enough."""


@pytest.fixture(scope="module", autouse=True)
def fuzzing_was_hostile() -> Iterator[None]:
    """Once the module's fuzzing ran (whatever the order or selection): it did reach the
    gateway, with NUL and lone surrogates in bodies, and bodies were accepted as well as
    refused. A failure here is reported as an error of the module's last test."""
    yield
    if not SENT:
        return  # no operation of the fuzzer was selected in this run
    print(dict(sorted(SENT.items())))  # shown with -s: what the fuzzer did
    for kind in (
        "NUL in POST /api/notifications/send",
        "surrogate in POST /api/notifications/send",
        "NUL in POST /api/rooms",
        "surrogate in POST /api/rooms",
        "200 from POST /api/notifications/send",
        "201 from POST /api/rooms",
        "422 from POST /api/notifications/send",
    ):
        assert SENT[kind] > 0, f"the fuzzer never sent or got: {kind}"


def hostile(value: object) -> set[str]:
    """Which rule-breaking strings ``value`` holds (anywhere in it)."""
    found: set[str] = set()
    if isinstance(value, str):
        if "\x00" in value:
            found.add("NUL")
        if any(0xD800 <= ord(c) < 0xE000 for c in value):
            found.add("surrogate")
    elif isinstance(value, dict):
        for key, item in value.items():
            found |= hostile(key) | hostile(item)
    elif isinstance(value, list):
        for item in value:
            found |= hostile(item)
    return found


@schema.parametrize()
@settings(
    deadline=timedelta(seconds=REQUEST_TIMEOUT_SECONDS),
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_the_http_api_answers_only_what_it_documents(
    case: Case[Any], gateway: ServiceHandle
) -> None:
    bounded_poll(case)
    for kind in hostile(case.body) | hostile(case.query) | hostile(case.path_parameters):
        SENT[f"{kind} in {case.method} {case.path}"] += 1
    response = case.call_and_validate(
        base_url=gateway.url,
        headers={"Authorization": f"Bearer {service_token()}"},
        checks=CHECKS,
        timeout=read_timeout(case),
    )
    SENT[f"{response.status_code} from {case.method} {case.path}"] += 1
