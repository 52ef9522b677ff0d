"""How far a durable JetStream consumer is behind, and how often it sees a message again.

The lag is read from the server (``consumer_info``) on a timer rather than from the messages
fetched, so that it keeps rising while the consumer is stuck, which is when it matters.
"""

import asyncio
import logging

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from switchboard_contracts.streams import ConsumerSpec

from switchboard_runtime.messaging.ack_subject import delivery_count
from switchboard_runtime.telemetry.metrics import (
    JETSTREAM_CONSUMER_ACK_PENDING,
    JETSTREAM_CONSUMER_PENDING,
    JETSTREAM_REDELIVERIES,
    service_name,
)

__all__ = ["note_delivery", "track_consumer_lag"]

log = logging.getLogger(__name__)

LAG_INTERVAL_SECONDS = 2.0


async def track_consumer_lag(
    js: JetStreamContext, spec: ConsumerSpec, interval: float = LAG_INTERVAL_SECONDS
) -> None:
    """Update the consumer's pending and ack-pending gauges every ``interval``, until cancelled."""
    labels = (service_name(), spec.stream, spec.durable)
    JETSTREAM_REDELIVERIES.labels(*labels)
    while True:
        try:
            info = await js.consumer_info(spec.stream, spec.durable)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # the next round tries again; the gauges keep their last value
            log.debug("reading consumer %s failed: %s", spec.durable, err)
        else:
            JETSTREAM_CONSUMER_PENDING.labels(*labels).set(info.num_pending or 0)
            JETSTREAM_CONSUMER_ACK_PENDING.labels(*labels).set(info.num_ack_pending or 0)
        await asyncio.sleep(interval)


def note_delivery(msg: Msg, spec: ConsumerSpec) -> None:
    """Count ``msg`` as a redelivery when the consumer has seen it before."""
    if delivery_count(msg.reply) > 1:
        JETSTREAM_REDELIVERIES.labels(service_name(), spec.stream, spec.durable).inc()
