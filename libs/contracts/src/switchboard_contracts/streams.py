"""JetStream streams and durable consumers. The owning service creates or updates them at start."""

from dataclasses import dataclass

from switchboard_contracts import subjects

__all__ = [
    "CHAT",
    "DEAD_LETTERS",
    "NOTIFICATION_BROADCAST_CONSUMER",
    "NOTIFY",
    "NOTIFY_JOBS",
    "PERSISTENCE_CHAT_CONSUMER",
    "PERSISTENCE_NOTIFY_CONSUMER",
    "PRESENCE",
    "PRESENCE_GATEWAYS",
    "BucketSpec",
    "ConsumerSpec",
    "StreamSpec",
]

DAY_SECONDS = 24 * 60 * 60


@dataclass(frozen=True)
class StreamSpec:
    name: str
    subjects: tuple[str, ...]
    owner: str
    max_age_seconds: float
    duplicate_window_seconds: float
    replicas: int = 1
    description: str = ""
    republish: tuple[str, str] | None = None
    """(source, destination): the server republishes each stored message, in order."""
    work_queue: bool = False  # a message is removed once a consumer acks it


@dataclass(frozen=True)
class BucketSpec:
    """A JetStream key-value bucket. ``ttl_seconds`` None: values stay until deleted."""

    name: str
    owner: str
    ttl_seconds: float | None
    history: int = 1
    replicas: int = 1
    description: str = ""


@dataclass(frozen=True)
class ConsumerSpec:
    stream: str
    durable: str
    filter_subject: str
    max_ack_pending: int
    ack_wait_seconds: float


CHAT = StreamSpec(
    name="CHAT",
    subjects=(subjects.CHAT_ROOM_ALL,),
    owner="chat",
    max_age_seconds=7 * DAY_SECONDS,
    duplicate_window_seconds=10 * 60,
    description="Room messages: the durable log that gateways replay from and persistence drains",
    republish=(subjects.CHAT_ROOM_ALL, subjects.CHAT_LIVE_ALL),
)

PERSISTENCE_CHAT_CONSUMER = ConsumerSpec(
    stream=CHAT.name,
    durable="persistence-chat",
    filter_subject=subjects.CHAT_ROOM_ALL,
    max_ack_pending=10_000,
    ack_wait_seconds=30,
)

NOTIFY = StreamSpec(
    name="NOTIFY",
    subjects=(subjects.NOTIFY_USER_ALL, subjects.NOTIFY_AUDIENCE_ALL),
    owner="notification",
    max_age_seconds=7 * DAY_SECONDS,
    duplicate_window_seconds=10 * 60,
    description="Inboxes: users' own notifications and audiences' broadcasts, one log",
    republish=(subjects.NOTIFY_STORED, subjects.NOTIFY_LIVE_STORED),
)

PERSISTENCE_NOTIFY_CONSUMER = ConsumerSpec(
    stream=NOTIFY.name,
    durable="persistence-notify",
    filter_subject=subjects.NOTIFY_STORED,
    max_ack_pending=10_000,
    ack_wait_seconds=30,
)

NOTIFY_JOBS = StreamSpec(
    name="NOTIFY_JOBS",
    subjects=(subjects.NOTIFY_JOBS_ALL,),
    owner="notification",
    max_age_seconds=DAY_SECONDS,
    duplicate_window_seconds=10 * 60,
    description="Accepted broadcasts, each stored once in NOTIFY for its audience by one instance",
    work_queue=True,
)

NOTIFICATION_BROADCAST_CONSUMER = ConsumerSpec(
    stream=NOTIFY_JOBS.name,
    durable="notification-broadcast",
    filter_subject=subjects.NOTIFY_JOB_BROADCAST,
    max_ack_pending=16,
    ack_wait_seconds=60,
)

PRESENCE = BucketSpec(
    name="PRESENCE",
    owner="chat",
    ttl_seconds=None,
    description="Who is in which room: one entry per (room, user, gateway), written by gateways",
)

PRESENCE_GATEWAYS = BucketSpec(
    name="PRESENCE_GATEWAYS",
    owner="chat",
    ttl_seconds=15,
    description=(
        "Gateway heartbeats. A gateway that stops refreshing its key expires after the bucket's"
        " TTL, and its PRESENCE entries are removed"
    ),
)

DEAD_LETTERS = StreamSpec(
    name="DEAD_LETTERS",
    subjects=(subjects.DEAD_LETTERS_ALL,),
    owner="persistence",
    max_age_seconds=30 * DAY_SECONDS,
    duplicate_window_seconds=10 * 60,
    description=(
        "Messages a durable consumer could not process (undecodable, refused by PostgreSQL, a"
        " broadcast job failing every delivery), with the original bytes and headers and the"
        " reason; listed and replayed with switchboard-dead-letters"
    ),
)
"""Created by persistence at start; a publisher that finds it missing creates it (never updates)."""
