"""The bus contract: the only place where subjects, streams and message schemas are spelled.

Services import builders from here (``subjects.chat_room(room_id)``) and never type a subject;
they ask and serve request/reply through the ``endpoints`` declared here.
"""

from switchboard_contracts import endpoints, input_rules, streams, subjects
from switchboard_contracts.chat import (
    MAX_CONTENT_LENGTH,
    ChatMessage,
    ChatSendReply,
    ChatSendRequest,
    EventKind,
    HistoryReply,
    HistoryRequest,
)
from switchboard_contracts.errors import BusError, ErrorCode
from switchboard_contracts.ids import InvalidIdError, validate_room_id, validate_user_id
from switchboard_contracts.message import BusMessage
from switchboard_contracts.reports import ServiceReport

__all__ = [
    "MAX_CONTENT_LENGTH",
    "BusError",
    "BusMessage",
    "ChatMessage",
    "ChatSendReply",
    "ChatSendRequest",
    "ErrorCode",
    "EventKind",
    "HistoryReply",
    "HistoryRequest",
    "InvalidIdError",
    "ServiceReport",
    "endpoints",
    "input_rules",
    "streams",
    "subjects",
    "validate_room_id",
    "validate_user_id",
]
