"""Every NATS subject Switchboard uses. Builders validate ids: no caller can form a bad subject."""

from switchboard_contracts.ids import (
    ID_PATTERN,
    InvalidIdError,
    validate_room_id,
    validate_team_id,
    validate_user_id,
)

__all__ = [
    "CHAT_HISTORY",
    "CHAT_LAST_SEQ",
    "CHAT_LIVE_ALL",
    "CHAT_PRESENCE_SNAPSHOT",
    "CHAT_ROOM_ACCESS",
    "CHAT_ROOM_ALL",
    "CHAT_ROOM_CREATE",
    "CHAT_ROOM_LIST",
    "CHAT_SEND",
    "CHAT_SEND_BATCH",
    "CHAT_USER_ERASE",
    "CHAT_VERSIONS",
    "DASHBOARD_ALERT",
    "DASHBOARD_LOG_ALL",
    "DASHBOARD_METRICS",
    "DEAD_LETTERS_ALL",
    "DEAD_LETTER_REPLAY_ALL",
    "JS_ACK_PREFIX",
    "LOGS_RECORD_ALL",
    "METRICS_REPORT_ALL",
    "NOTIFY_AUDIENCE_ALL",
    "NOTIFY_BROADCAST",
    "NOTIFY_INBOX",
    "NOTIFY_JOBS_ALL",
    "NOTIFY_JOB_BROADCAST",
    "NOTIFY_LAST_CURSOR",
    "NOTIFY_LIVE_ALL",
    "NOTIFY_LIVE_STORED",
    "NOTIFY_MARK_READ",
    "NOTIFY_MEMBERSHIPS",
    "NOTIFY_READ",
    "NOTIFY_REGISTER",
    "NOTIFY_REPLAY",
    "NOTIFY_SEND",
    "NOTIFY_STORED",
    "NOTIFY_USER_ALL",
    "QUEUE_CHAT",
    "QUEUE_NOTIFICATION",
    "QUEUE_PERSISTENCE",
    "SOCKETIO_CHANNEL",
    "STORE_MESSAGES_GET",
    "STORE_MESSAGE_GET",
    "STORE_READ_MARK",
    "STORE_READ_STATES",
    "STORE_ROOM_CREATE",
    "STORE_ROOM_GET",
    "STORE_ROOM_LIST",
    "chat_live",
    "chat_presence",
    "chat_read",
    "chat_room",
    "chat_typing",
    "dashboard_log",
    "dead_letter",
    "dead_letter_replay",
    "js_consumer_next",
    "js_direct_get",
    "logs_record",
    "metrics_report",
    "notify_audience",
    "notify_live",
    "notify_live_audience",
    "notify_unread",
    "notify_user",
]

# request/reply, served by a queue group
CHAT_SEND = "chat.cmd.send"
CHAT_SEND_BATCH = "chat.cmd.send-batch"
CHAT_HISTORY = "chat.cmd.history"
CHAT_VERSIONS = "chat.cmd.versions"
CHAT_LAST_SEQ = "chat.cmd.last-seq"
CHAT_USER_ERASE = "chat.cmd.user-erase"

# notifications: gateway -> notification
NOTIFY_SEND = "notify.cmd.send"
NOTIFY_BROADCAST = "notify.cmd.broadcast"
NOTIFY_READ = "notify.cmd.read"
# notifications: -> persistence
NOTIFY_MARK_READ = "notify.cmd.mark-read"
NOTIFY_REGISTER = "notify.cmd.register"
NOTIFY_MEMBERSHIPS = "notify.cmd.memberships"
NOTIFY_INBOX = "notify.cmd.inbox"
NOTIFY_REPLAY = "notify.cmd.replay"
NOTIFY_LAST_CURSOR = "notify.cmd.last-cursor"

# gateway -> chat: rooms, membership and presence (chat owns the rules)
CHAT_ROOM_CREATE = "chat.cmd.room.create"
CHAT_ROOM_LIST = "chat.cmd.room.list"
CHAT_ROOM_ACCESS = "chat.cmd.room.access"
CHAT_PRESENCE_SNAPSHOT = "chat.cmd.presence"

# chat -> persistence: what chat needs from PostgreSQL
STORE_ROOM_CREATE = "chat.cmd.store.room-create"
STORE_ROOM_GET = "chat.cmd.store.room-get"
STORE_ROOM_LIST = "chat.cmd.store.room-list"
STORE_MESSAGE_GET = "chat.cmd.store.message-get"
STORE_MESSAGES_GET = "chat.cmd.store.messages-get"

# gateway -> persistence: read marks of rooms (receipts) and unread counts
STORE_READ_MARK = "chat.cmd.store.read-mark"
STORE_READ_STATES = "chat.cmd.store.read-states"

QUEUE_CHAT = "chat"
QUEUE_NOTIFICATION = "notification"
QUEUE_PERSISTENCE = "persistence"

# stream NOTIFY_JOBS (work queue): accepted broadcasts waiting to be expanded
NOTIFY_JOB_BROADCAST = "notify.job.broadcast"
NOTIFY_JOBS_ALL = "notify.job.>"

# stream DEAD_LETTERS: what a durable consumer could not process, one subject per origin stream
DEAD_LETTERS_ALL = "deadletter.>"
# request/reply, queue group of the origin stream's consumer: process a dead letter again
DEAD_LETTER_REPLAY_ALL = "ops.dead-letter.replay.>"

CHAT_ROOM_ALL = "chat.room.>"
CHAT_LIVE_ALL = "chat.live.>"
METRICS_REPORT_ALL = "metrics.report.>"
NOTIFY_USER_ALL = "notify.user.>"
NOTIFY_AUDIENCE_ALL = "notify.audience.>"
# What NOTIFY stores, users' entries and audiences' (not ``*_ALL``: metrics label a subject by
# the most specific family, ``notify.user.>``).
NOTIFY_STORED = "notify.*.>"
NOTIFY_LIVE_ALL = "notify.live.>"
NOTIFY_LIVE_STORED = "notify.live.{{wildcard(1)}}.>"  # NOTIFY's republish of NOTIFY_STORED


def chat_room(room_id: str) -> str:
    """Where chat publishes a room's messages; stored in stream CHAT. Nobody subscribes to it:
    a publish that JetStream rejects or drops as a duplicate is still seen by core subscribers."""
    return f"chat.room.{validate_room_id(room_id)}"


def chat_live(room_id: str) -> str:
    """A room's stored messages as the CHAT stream republishes them: what gateways fan out.

    Not ``chat.room.<room>`` itself: a plain subscriber there also receives publishes that
    JetStream refused (a duplicate, a lost race for the next ``seq``). The stream republishes
    only what it stored, in its order, with ``Nats-Sequence`` and ``Nats-Last-Sequence``.
    """
    return f"chat.live.{validate_room_id(room_id)}"


def chat_typing(room_id: str) -> str:
    """Typing events of a room (core NATS, ephemeral): gateway -> gateways."""
    return f"chat.typing.{validate_room_id(room_id)}"


def chat_presence(room_id: str) -> str:
    """A room's coalesced presence snapshots (core NATS, ephemeral): chat -> gateways."""
    return f"chat.presence.{validate_room_id(room_id)}"


def chat_read(room_id: str) -> str:
    """A room's read marks (core NATS, ephemeral, coalesced by the marking gateway):
    gateway -> gateways with members in the room."""
    return f"chat.read.{validate_room_id(room_id)}"


def notify_user(user_id: str) -> str:
    """Where notification publishes a user's inbox entries; stored in stream NOTIFY. Nobody
    subscribes to it: core subscribers would also see publishes JetStream refused."""
    return f"notify.user.{validate_user_id(user_id)}"


def notify_live(user_id: str) -> str:
    """Everything a gateway hears about a user, on one core subscription per user.

    The user's personal inbox entries, republished by the NOTIFY stream only once stored, in
    stream order (with ``Nats-Stream``, ``Nats-Sequence``, ...), and the user's unread-count
    changes, published here by notification (core NATS, ephemeral) with the header
    ``notify.EVENT_HEADER: notify.UNREAD_EVENT``. A subscriber tells them apart by that header.
    """
    return f"notify.live.user.{validate_user_id(user_id)}"


def notify_audience(audience: str) -> str:
    """Where notification publishes a broadcast, once for its whole audience (``all``, or
    ``team.<team>``: ``notify.audience_of``); stored in stream NOTIFY beside the users'
    entries. Nobody subscribes to it (see ``notify_user``)."""
    return f"notify.audience.{_audience(audience)}"


def notify_live_audience(audience: str) -> str:
    """An audience's entries as the NOTIFY stream republishes them once stored, in stream order
    with the users' own (``notify_live``): a gateway subscribes once per audience its users
    belong to, not once per user."""
    return f"notify.live.audience.{_audience(audience)}"


def _audience(audience: str) -> str:
    if audience == "all":
        return audience
    kind, _, team = audience.partition(".")
    if kind != "team":
        raise InvalidIdError(f"unknown audience {audience[:80]!r}")
    return f"team.{validate_team_id(team)}"


def notify_unread(user_id: str) -> str:
    """Deprecated: a user's unread-count changes for gateways of the previous release, which
    subscribe here. Notification still publishes each change here too (after ``notify_live``);
    nothing of this release subscribes. Remove once no such gateway runs."""
    return f"notify.unread.{validate_user_id(user_id)}"


def metrics_report(service: str) -> str:
    return f"metrics.report.{service}"


# Live dashboards (core NATS, ephemeral): services -> metrics-collector -> gateways.
LOGS_RECORD_ALL = "logs.record.>"
DASHBOARD_METRICS = "dashboard.metrics"
DASHBOARD_ALERT = "dashboard.alert"
DASHBOARD_LOG_ALL = "dashboard.log.>"
SOCKETIO_CHANNEL = "gateway.socketio"
"""gateway <-> gateways: python-socketio's client-manager messages (emits, rooms, disconnects)."""


def _token(kind: str, value: str) -> str:
    if not ID_PATTERN.fullmatch(value):
        raise InvalidIdError(f"{kind} must be 1-64 characters of letters, digits, '-' or '_'")
    return value


def logs_record(service: str) -> str:
    """Where a service forwards its log records to metrics-collector."""
    return f"logs.record.{_token('service', service)}"


def dashboard_log(level: str, source: str) -> str:
    """Where metrics-collector publishes a log tail entry for dashboards."""
    return f"dashboard.log.{_token('level', level)}.{_token('source', source)}"


# The JetStream API, where services speak it below nats-py (batched direct gets, pull requests,
# reading an ack subject): the server's subjects, spelled here like ours.
JS_ACK_PREFIX = "$JS.ACK."
"""What every JetStream delivery's reply subject starts with (its metadata follows)."""


def js_direct_get(stream: str) -> str:
    """The stream's direct-get API (``allow_direct``): one or many messages by subject."""
    return f"$JS.API.DIRECT.GET.{_token('stream', stream)}"


def js_consumer_next(stream: str, durable: str) -> str:
    """A pull consumer's next-messages API."""
    return f"$JS.API.CONSUMER.MSG.NEXT.{_token('stream', stream)}.{_token('durable', durable)}"


def dead_letter(stream: str) -> str:
    """Where a message of stream ``stream`` (e.g. ``CHAT``) goes when its consumer cannot process
    it: ``deadletter.chat``; stored in stream DEAD_LETTERS."""
    return f"deadletter.{_token('stream', stream.lower())}"


def dead_letter_replay(stream: str) -> str:
    """Asks the service that consumes ``stream`` to process one of its dead letters again
    (``ops.dead-letter.replay.chat``). Outside ``deadletter.>``: never stored."""
    return f"ops.dead-letter.replay.{_token('stream', stream.lower())}"
