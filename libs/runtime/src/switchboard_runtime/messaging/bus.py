"""The NATS connection of a service, tuned to notice a dead server quickly, and stream set-up.

``Bus.publish``, ``Bus.subscribe``, ``Bus.ask``, ``Bus.serve`` and ``stream_publish`` are the
traced and counted ways to use it: they carry the trace context in the message headers and feed
the ``switchboard_bus_*`` metrics. Use them rather than ``bus.nc`` directly.

Request/reply goes through the endpoints of ``switchboard_contracts.endpoints`` only:
``Bus.ask(endpoint, request)`` returns ``endpoint.reply_type``, always: the server's reply, or
the endpoint's error reply when there was none to read::

    nobody answered in time (no responders, timeout)  unavailable  "<subject> did not answer
                                                                    in time; retry"
    the answer could not be decoded                    internal     "<subject> gave an
                                                                    unreadable answer"

so a caller handles one thing, ``reply.error``. A caller that must tell "nobody answered" from
an error reply passes ``raise_unanswered=True`` and gets ``BusUnavailableError`` instead.
``Bus.serve(endpoint, handler)`` answers in the endpoint's queue group, with the endpoint's
error reply when the request is undecodable or the handler raises (``requests``).
"""

import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from nats.aio.client import Client, Server
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    KeyValueConfig,
    PubAck,
    RePublish,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.js.kv import KeyValue
from pydantic import ValidationError
from switchboard_contracts import BusError, BusMessage, ErrorCode
from switchboard_contracts.endpoints import Endpoint
from switchboard_contracts.streams import BucketSpec, ConsumerSpec, StreamSpec

from switchboard_runtime.errors import UnavailableError
from switchboard_runtime.patches.natspy_header_parse import CachedHeaderClient
from switchboard_runtime.patches.natspy_inline_dispatch import subscribe_inline
from switchboard_runtime.service.settings import ServiceSettings
from switchboard_runtime.telemetry.metrics import (
    BUS_MESSAGES_PUBLISHED,
    BUS_MESSAGES_RECEIVED,
    BUS_REQUEST_DURATION,
    BUS_REQUESTS,
    NATS_CONNECTED,
    NATS_DISCONNECTS,
    NATS_ERRORS,
    NATS_RECONNECTS,
    child,
    service_name,
    subject_template,
)
from switchboard_runtime.telemetry.tracing import consumer_span, producer_span

__all__ = [
    "Bus",
    "BusUnavailableError",
    "JitteredReconnect",
    "ensure_bucket",
    "ensure_consumer",
    "ensure_stream",
    "open_bucket",
    "stream_publish",
    "stream_publish_in_context",
]

log = logging.getLogger(__name__)

Req = TypeVar("Req", bound=BusMessage)
Rep = TypeVar("Rep", bound=BusMessage)


class BusUnavailableError(UnavailableError):
    """Nobody answered a request in time: no member of the serving queue group was there, or
    none answered within the timeout (``Bus.ask(..., raise_unanswered=True)``). ``error`` is
    what ``Bus.ask`` answers otherwise."""

    def __init__(self, subject: str, *, no_responders: bool = False) -> None:
        super().__init__(f"{subject} did not answer in time")
        self.subject = subject
        self.no_responders = no_responders
        """Nobody serves the subject at all (NATS said so at once), rather than a timeout."""

    @property
    def error(self) -> BusError:
        return BusError(code=ErrorCode.UNAVAILABLE, message=f"{self}; retry")


class JitteredReconnect:
    """nats-py's reconnect hook: the servers in turn, each attempt after ``wait`` plus a random
    part up to ``jitter``, so that the clients of a restarted server do not all come at once."""

    def __init__(self, wait: float, jitter: float) -> None:
        self._wait = wait
        self._jitter = jitter
        self._turn = 0

    def __call__(self, servers: list[Server], info: dict[str, Any]) -> tuple[Server | None, float]:
        del info
        self._turn += 1
        chosen = servers[self._turn % len(servers)] if servers else None
        return chosen, self._wait + random.uniform(0, self._jitter)  # noqa: S311 (not secret)


class Bus:
    """One NATS connection per process, with its JetStream context."""

    def __init__(self, settings: ServiceSettings | None, name: str) -> None:
        self._settings = settings
        self._name = name
        self._nc: Client | None = None
        # Called after a reconnect: core subscriptions missed what was published meanwhile.
        self.on_reconnected: list[Callable[[], None]] = []
        self.on_disconnected: list[Callable[[], None]] = []

    @classmethod
    def attach(cls, nc: Client, name: str = "attached") -> "Bus":
        """A Bus on a connection made elsewhere (a command-line tool, a test), which its maker
        keeps and closes: ``connect`` is not for it."""
        bus = cls(None, name)
        bus._nc = nc
        return bus

    @property
    def nc(self) -> Client:
        if self._nc is None:
            raise RuntimeError("the bus is not connected yet")
        return self._nc

    @property
    def js(self) -> JetStreamContext:
        return self.nc.jetstream()

    @property
    def connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    async def connect(self) -> None:
        settings = self._settings
        if settings is None:
            raise RuntimeError("an attached bus is connected by its maker")
        service = service_name()

        async def on_disconnected() -> None:
            NATS_DISCONNECTS.labels(service).inc()
            log.warning("disconnected from NATS")
            for callback in self.on_disconnected:
                callback()

        async def on_reconnected() -> None:
            NATS_RECONNECTS.labels(service).inc()
            log.info("reconnected to NATS")
            for callback in self.on_reconnected:
                callback()

        async def on_error(err: Exception) -> None:
            NATS_ERRORS.labels(service).inc()
            log.warning("NATS error: %s", err)

        NATS_CONNECTED.labels(service).set_function(lambda: float(self.connected))
        NATS_DISCONNECTS.labels(service)
        NATS_RECONNECTS.labels(service)
        NATS_ERRORS.labels(service)

        self._nc = CachedHeaderClient()
        await self._nc.connect(
            servers=[url.strip() for url in settings.nats_url.split(",")],
            name=self._name,
            ping_interval=settings.nats_ping_interval_seconds,
            max_outstanding_pings=settings.nats_max_outstanding_pings,
            # Used by nats-py only without the handler below, which also adds the jitter.
            # nats-py annotates it int, and sleeps for a float as well.
            reconnect_time_wait=settings.nats_reconnect_wait_seconds,  # type: ignore[arg-type]
            reconnect_to_server_handler=JitteredReconnect(
                settings.nats_reconnect_wait_seconds, settings.nats_reconnect_jitter_seconds
            ),
            max_reconnect_attempts=-1,
            allow_reconnect=True,
            connect_timeout=settings.nats_connect_timeout_seconds,
            disconnected_cb=on_disconnected,
            reconnected_cb=on_reconnected,
            error_cb=on_error,
        )
        log.info(
            "connected to NATS at %s",
            self._nc.connected_url.netloc if self._nc.connected_url else "?",
        )

    async def close(self) -> None:
        if self._nc is not None and not self._nc.is_closed:
            await self._nc.drain()
        self._nc = None

    async def publish(
        self, subject: str, payload: bytes, headers: Mapping[str, str] | None = None
    ) -> None:
        """Core NATS publish, traced and counted."""
        with producer_span("publish", subject, headers=headers, body_size=len(payload)) as traced:
            await self.nc.publish(subject, payload, headers=traced)
        child(BUS_MESSAGES_PUBLISHED, service_name(), subject_template(subject)).inc()

    async def request(
        self,
        subject: str,
        payload: bytes,
        timeout: float,
        headers: Mapping[str, str] | None = None,
    ) -> Msg:
        """Request/reply, traced and counted; raises nats' TimeoutError / NoRespondersError."""
        service, family = service_name(), subject_template(subject)
        started = time.perf_counter()
        outcome = "error"
        try:
            with producer_span(
                "request", subject, headers=headers, body_size=len(payload)
            ) as traced:
                reply = await self.nc.request(subject, payload, timeout=timeout, headers=traced)
        except NatsTimeoutError:
            outcome = "timeout"
            raise
        except NoRespondersError:
            outcome = "no_responders"
            raise
        else:
            outcome = "ok"
            return reply
        finally:
            child(BUS_REQUESTS, service, family, outcome).inc()
            child(BUS_REQUEST_DURATION, service, family).observe(time.perf_counter() - started)

    async def ask(
        self,
        endpoint: Endpoint[Req, Rep],
        request: Req,
        *,
        timeout: float | None = None,
        raise_unanswered: bool = False,
    ) -> Rep:
        """Ask ``endpoint`` and wait up to ``timeout`` (default: the endpoint's) for its reply.

        Traced and counted as ``request``. Nobody answering in time is the endpoint's
        ``unavailable`` error reply (``BusUnavailableError`` with ``raise_unanswered``), an
        undecodable answer its ``internal`` one; an error the server replied is returned as is.
        """
        subject = endpoint.subject
        try:
            answer = await self.request(
                subject, request.encode(), endpoint.timeout if timeout is None else timeout
            )
        except (NatsTimeoutError, NoRespondersError) as err:
            unanswered = BusUnavailableError(
                subject, no_responders=isinstance(err, NoRespondersError)
            )
            if raise_unanswered:
                raise unanswered from err
            return endpoint.error_reply(unanswered.error)
        try:
            return endpoint.reply_type.decode(answer.data)
        except ValidationError:
            log.warning("%s gave an unreadable answer", subject)
            return endpoint.error_reply(
                BusError(code=ErrorCode.INTERNAL, message=f"{subject} gave an unreadable answer")
            )

    async def serve(
        self,
        endpoint: Endpoint[Req, Rep],
        handler: Callable[[Req], Awaitable[Rep]],
        *,
        concurrency: int = 256,
    ) -> Subscription:
        """Answer ``endpoint`` with ``handler`` in the endpoint's queue group, up to
        ``concurrency`` requests at once; an undecodable request or a handler that raises is
        answered with the endpoint's error reply (``invalid_frame``; ``unavailable`` for a
        JetStream publish never acked; ``internal``). Traced and counted per request."""
        # imported here: requests -> publish_retry -> bus
        from switchboard_runtime.messaging.requests import serve_endpoint  # noqa: PLC0415

        return await serve_endpoint(self.nc, endpoint, handler, concurrency=concurrency)

    async def subscribe(
        self, subject: str, cb: Callable[[Msg], Awaitable[None]], queue: str = ""
    ) -> Subscription:
        """Core NATS subscription; each message is handled in a CONSUMER span and counted."""

        async def handle(msg: Msg) -> None:
            child(BUS_MESSAGES_RECEIVED, service_name(), subject_template(msg.subject)).inc()
            with consumer_span(
                msg.subject, msg.headers, group=queue or None, body_size=len(msg.data)
            ):
                await cb(msg)

        return await self.nc.subscribe(subject, queue=queue, cb=handle)

    async def subscribe_inline(
        self, subject: str, handler: Callable[[Msg], None], queue: str = ""
    ) -> Subscription:
        """Like ``subscribe``, for a handler that never waits: it runs on the client's read
        loop, without a queue and a task of its own (``natspy_inline_dispatch``), so a subscription
        costs less memory and a message one task switch less."""

        def handle(msg: Msg) -> None:
            child(BUS_MESSAGES_RECEIVED, service_name(), subject_template(msg.subject)).inc()
            with consumer_span(
                msg.subject, msg.headers, group=queue or None, body_size=len(msg.data)
            ):
                handler(msg)

        return await subscribe_inline(self.nc, subject, handle, queue=queue)


async def stream_publish(
    js: JetStreamContext,
    subject: str,
    payload: bytes,
    *,
    stream: str | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> PubAck:
    """One JetStream publish, traced (the context is stored with the message) and counted.

    Services publish through ``publish_until_acked`` (``publish_retry``), which retries this."""
    with producer_span(
        "publish",
        subject,
        headers=headers,
        message_id=(headers or {}).get("Nats-Msg-Id"),
        body_size=len(payload),
    ) as traced:
        ack: PubAck = await js.publish(
            subject, payload, timeout=timeout, stream=stream, headers=traced
        )
    child(BUS_MESSAGES_PUBLISHED, service_name(), subject_template(subject)).inc()
    return ack


async def stream_publish_in_context(
    js: JetStreamContext,
    subject: str,
    payload: bytes,
    *,
    headers: Mapping[str, str],
    stream: str | None = None,
    timeout: float | None = None,
) -> PubAck:
    """One JetStream publish, counted, without a span of its own: for a batch of many (a
    broadcast's inbox entries) whose caller opened one span for the whole batch and put its
    context into ``headers`` once, so each message still carries the trace context."""
    ack: PubAck = await js.publish(
        subject, payload, timeout=timeout, stream=stream, headers=dict(headers)
    )
    BUS_MESSAGES_PUBLISHED.labels(service_name(), subject_template(subject)).inc()
    return ack


async def ensure_stream(js: JetStreamContext, spec: StreamSpec) -> None:
    """Create the stream, or bring an existing one's settings up to the spec. Idempotent."""
    config = StreamConfig(
        name=spec.name,
        description=spec.description,
        subjects=list(spec.subjects),
        storage=StorageType.FILE,
        num_replicas=spec.replicas,
        max_age=spec.max_age_seconds,
        # JetStream refuses a duplicate window longer than the stream keeps messages.
        duplicate_window=min(spec.duplicate_window_seconds, spec.max_age_seconds),
        allow_direct=True,
        republish=RePublish(src=spec.republish[0], dest=spec.republish[1])
        if spec.republish
        else None,
        retention=RetentionPolicy.WORK_QUEUE if spec.work_queue else RetentionPolicy.LIMITS,
    )
    try:
        await js.stream_info(spec.name)
    except NotFoundError:
        await js.add_stream(config)
        log.info("created stream %s", spec.name)
        return
    await js.update_stream(config)
    log.info("stream %s is up to date", spec.name)


async def ensure_consumer(js: JetStreamContext, spec: ConsumerSpec) -> None:
    """Create or update a durable pull consumer. Idempotent."""
    config = ConsumerConfig(
        durable_name=spec.durable,
        filter_subject=spec.filter_subject,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        max_ack_pending=spec.max_ack_pending,
        ack_wait=spec.ack_wait_seconds,
    )
    await js.add_consumer(spec.stream, config)


async def ensure_bucket(js: JetStreamContext, spec: BucketSpec) -> KeyValue:
    """Create the key-value bucket, or bring an existing one's TTL up to the spec. Idempotent.

    A bucket with a TTL places a delete marker when a key expires, so watchers see it go.
    """
    ttl = spec.ttl_seconds
    try:
        kv = await js.key_value(spec.name)
    except BucketNotFoundError:
        kv = await js.create_key_value(
            KeyValueConfig(
                bucket=spec.name,
                description=spec.description,
                history=spec.history,
                ttl=ttl,
                limit_marker_ttl=ttl,
                replicas=spec.replicas,
                storage=StorageType.FILE,
                direct=True,
            )
        )
        log.info("created key-value bucket %s", spec.name)
        return kv
    status = await kv.status()
    config = status.stream_info.config
    if (config.max_age or None) != ttl or (config.subject_delete_marker_ttl or None) != ttl:
        await js.update_stream(
            config.evolve(max_age=ttl, subject_delete_marker_ttl=ttl, allow_msg_ttl=True)
        )
        log.info("key-value bucket %s now has TTL %s s", spec.name, ttl)
    return kv


async def open_bucket(js: JetStreamContext, spec: BucketSpec) -> KeyValue | None:
    """The bucket if its owner created it already, else None."""
    try:
        return await js.key_value(spec.name)
    except BucketNotFoundError:
        return None
