"""The NATS connection of a service, tuned to notice a dead server quickly, and stream set-up."""

import logging

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    KeyValueConfig,
    RePublish,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.js.kv import KeyValue
from switchboard_contracts.streams import BucketSpec, ConsumerSpec, StreamSpec

from switchboard_runtime.settings import ServiceSettings

__all__ = ["Bus", "ensure_bucket", "ensure_consumer", "ensure_stream", "open_bucket"]

log = logging.getLogger(__name__)


class Bus:
    """One NATS connection per process, with its JetStream context."""

    def __init__(self, settings: ServiceSettings, name: str) -> None:
        self._settings = settings
        self._name = name
        self._nc: Client | None = None

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

        async def on_disconnected() -> None:
            log.warning("disconnected from NATS")

        async def on_reconnected() -> None:
            log.info("reconnected to NATS")

        async def on_error(err: Exception) -> None:
            log.warning("NATS error: %s", err)

        self._nc = await nats.connect(
            servers=[url.strip() for url in settings.nats_url.split(",")],
            name=self._name,
            ping_interval=int(max(1, settings.nats_ping_interval_seconds)),
            max_outstanding_pings=settings.nats_max_outstanding_pings,
            reconnect_time_wait=settings.nats_reconnect_wait_seconds,
            max_reconnect_attempts=-1,
            allow_reconnect=True,
            connect_timeout=2,
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


async def ensure_stream(js: JetStreamContext, spec: StreamSpec) -> None:
    """Create the stream, or bring an existing one's settings up to the spec. Idempotent."""
    config = StreamConfig(
        name=spec.name,
        description=spec.description,
        subjects=list(spec.subjects),
        storage=StorageType.FILE,
        num_replicas=spec.replicas,
        max_age=spec.max_age_seconds,
        duplicate_window=spec.duplicate_window_seconds,
        allow_direct=True,
        republish=(
            RePublish(src=spec.republish[0], dest=spec.republish[1]) if spec.republish else None
        ),
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
