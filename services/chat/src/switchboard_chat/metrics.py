"""The chat service's metrics, ``switchboard_chat_*``. Labels: ``code`` (an ``ErrorCode``)."""

from prometheus_client import Counter
from switchboard_contracts import ErrorCode

__all__ = ["DUPLICATES", "MESSAGES_ACCEPTED", "MESSAGES_REJECTED", "SEQUENCE_CONFLICTS"]

MESSAGES_ACCEPTED = Counter(
    "switchboard_chat_messages_accepted_total",
    "Messages stored in the CHAT stream and acknowledged (a retried duplicate counts again)",
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

for _code in ErrorCode:
    MESSAGES_REJECTED.labels(_code.value)
