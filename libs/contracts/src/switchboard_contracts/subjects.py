"""Every NATS subject Switchboard uses. Builders validate ids: no caller can form a bad subject."""

from switchboard_contracts.ids import validate_room_id, validate_user_id

__all__ = [
    "CHAT_HISTORY",
    "CHAT_LAST_SEQ",
    "CHAT_ROOM_ALL",
    "CHAT_SEND",
    "METRICS_REPORT_ALL",
    "NOTIFY_BROADCAST",
    "NOTIFY_INBOX",
    "NOTIFY_JOBS_ALL",
    "NOTIFY_JOB_BROADCAST",
    "NOTIFY_LAST_CURSOR",
    "NOTIFY_MARK_READ",
    "NOTIFY_READ",
    "NOTIFY_REGISTER",
    "NOTIFY_REPLAY",
    "NOTIFY_SEND",
    "NOTIFY_USERS",
    "NOTIFY_USER_ALL",
    "QUEUE_CHAT",
    "QUEUE_NOTIFICATION",
    "QUEUE_PERSISTENCE",
    "chat_room",
    "metrics_report",
    "notify_unread",
    "notify_user",
]

# request/reply, served by a queue group
CHAT_SEND = "chat.cmd.send"
CHAT_HISTORY = "chat.cmd.history"
CHAT_LAST_SEQ = "chat.cmd.last-seq"

# notifications: gateway -> notification
NOTIFY_SEND = "notify.cmd.send"
NOTIFY_BROADCAST = "notify.cmd.broadcast"
NOTIFY_READ = "notify.cmd.read"
# notifications: -> persistence
NOTIFY_MARK_READ = "notify.cmd.mark-read"
NOTIFY_REGISTER = "notify.cmd.register"
NOTIFY_USERS = "notify.cmd.users"
NOTIFY_INBOX = "notify.cmd.inbox"
NOTIFY_REPLAY = "notify.cmd.replay"
NOTIFY_LAST_CURSOR = "notify.cmd.last-cursor"

QUEUE_CHAT = "chat"
QUEUE_NOTIFICATION = "notification"
QUEUE_PERSISTENCE = "persistence"

# stream NOTIFY_JOBS (work queue): accepted broadcasts waiting to be expanded
NOTIFY_JOB_BROADCAST = "notify.job.broadcast"
NOTIFY_JOBS_ALL = "notify.job.>"

CHAT_ROOM_ALL = "chat.room.>"
METRICS_REPORT_ALL = "metrics.report.>"
NOTIFY_USER_ALL = "notify.user.>"


def chat_room(room_id: str) -> str:
    """The subject of a room's durable messages (stream CHAT)."""
    return f"chat.room.{validate_room_id(room_id)}"


def notify_user(user_id: str) -> str:
    """The subject of a user's notifications (stream NOTIFY)."""
    return f"notify.user.{validate_user_id(user_id)}"


def notify_unread(user_id: str) -> str:
    """A user's unread-count changes (core NATS, ephemeral)."""
    return f"notify.unread.{validate_user_id(user_id)}"


def metrics_report(service: str) -> str:
    return f"metrics.report.{service}"
