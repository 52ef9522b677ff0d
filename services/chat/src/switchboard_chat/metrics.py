"""The chat service's metrics, ``switchboard_chat_*``. Labels: ``code`` (an ``ErrorCode``), ``kind``
(an ``EventKind``)."""

from prometheus_client import Counter
from switchboard_contracts import ErrorCode, EventKind

__all__ = [
    "CHANGES_ACCEPTED",
    "DUPLICATES",
    "MESSAGES_ACCEPTED",
    "MESSAGES_REJECTED",
    "SEQUENCE_CONFLICTS",
]

MESSAGES_ACCEPTED = Counter(
    "switchboard_chat_messages_accepted_total",
    "Messages stored in the CHAT stream and acknowledged (a retried duplicate counts again)",
)
CHANGES_ACCEPTED = Counter(
    "switchboard_chat_changes_accepted_total",
    "Edits, deletions and reactions stored in the CHAT stream and acknowledged, by kind",
    ["kind"],
)
MESSAGES_REJECTED = Counter(
    "switchboard_chat_messages_rejected_total",
    "Messages refused before storing, by error code",
    ["code"],
)
DUPLICATES = Counter(
    "switchboard_chat_duplicates_total",
    "Retried messages (same clientMsgId) answered with the stored original",
)
SEQUENCE_CONFLICTS = Counter(
    "switchboard_chat_sequence_conflicts_total",
    "Publishes retried because another chat instance wrote the room first",
)

for _kind in EventKind:
    CHANGES_ACCEPTED.labels(_kind.value)
for _code in ErrorCode:
    MESSAGES_REJECTED.labels(_code.value)
