"""The client protocol's frames (docs/protocol.md §2). Pure: parsing and encoding, no I/O.

Every frame is one JSON object ``{"type", "payload", "timestamp", ...}``. Parsing never raises:
it returns a typed frame or a ``FrameError`` that names the problem.
"""

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from switchboard_contracts import ChatMessage
from switchboard_contracts.chat import MAX_CLIENT_MSG_ID_LENGTH

from switchboard_gateway.metrics import ERRORS, FRAME_TYPES, FRAMES_RECEIVED, bounded

__all__ = [
    "ChatFrame",
    "ClientFrame",
    "FrameError",
    "PingFrame",
    "ack_frame",
    "chat_frame",
    "chat_frame_object",
    "connected_frame",
    "error_frame",
    "invalid_format_frame",
    "now_ms",
    "parse_client_frame",
    "pong_frame",
]

MAX_SENDER_NAME_LENGTH = 100


@dataclass(frozen=True)
class FrameError:
    code: str
    message: str
    ref: str | None = None
    unparsable: bool = False


@dataclass(frozen=True)
class ChatFrame:
    content: str
    sender_name: str | None
    client_msg_id: str | None


@dataclass(frozen=True)
class PingFrame:
    fields: dict[str, Any]


ClientFrame = ChatFrame | PingFrame


def now_ms() -> int:
    return int(time.time() * 1000)


def _optional_str(payload: dict[str, Any], key: str, max_length: int) -> str | FrameError | None:
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= max_length:
        return FrameError(
            "invalid_frame", f"payload.{key} must be a string of 1-{max_length} characters"
        )
    return value


def _parse_chat(payload: dict[str, Any]) -> ChatFrame | FrameError:
    content = payload.get("content")
    if not isinstance(content, str):
        return FrameError("invalid_frame", "payload.content is required and must be a string")
    client_msg_id = _optional_str(payload, "clientMsgId", MAX_CLIENT_MSG_ID_LENGTH)
    if isinstance(client_msg_id, FrameError):
        return client_msg_id
    sender_name = _optional_str(payload, "senderName", MAX_SENDER_NAME_LENGTH)
    if isinstance(sender_name, FrameError):
        return FrameError(sender_name.code, sender_name.message, ref=client_msg_id)
    return ChatFrame(content=content, sender_name=sender_name, client_msg_id=client_msg_id)


_PAYLOAD_PARSERS: dict[str, Callable[[dict[str, Any]], ClientFrame | FrameError]] = {
    "chat": _parse_chat,
}


def _load_object(text: str | bytes) -> dict[str, Any] | FrameError:
    try:
        frame = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        return FrameError("invalid_json", "the frame is not valid JSON", unparsable=True)
    if not isinstance(frame, dict):
        return FrameError("invalid_frame", "a frame must be a JSON object", unparsable=True)
    return frame


def parse_client_frame(text: str | bytes) -> ClientFrame | FrameError:
    frame = _load_object(text)
    kind = frame.get("type") if isinstance(frame, dict) else None
    label = bounded(kind, FRAME_TYPES) if isinstance(kind, str) else "invalid"
    FRAMES_RECEIVED.labels("websocket", label).inc()
    if isinstance(frame, FrameError):
        return frame
    if not isinstance(kind, str):
        return FrameError("invalid_frame", "type is required and must be a string")
    if kind == "ping":
        return PingFrame(fields={k: v for k, v in frame.items() if k != "type"})
    parse = _PAYLOAD_PARSERS.get(kind)
    if parse is None:
        return FrameError("unknown_type", f"unknown frame type {kind[:40]!r}", ref=kind[:40])
    payload = frame.get("payload", {})
    if not isinstance(payload, dict):
        return FrameError("invalid_frame", "payload must be a JSON object", ref=kind)
    return parse(payload)


def _dump(frame: dict[str, Any]) -> str:
    # "type" first: edge.frame_type_of reads it from the text without parsing it again.
    return json.dumps({"type": frame["type"], **frame}, separators=(",", ":"), ensure_ascii=False)


def chat_frame_object(message: ChatMessage) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "content": message.content,
        "id": message.id,
        "seq": message.seq,
        "room": message.room,
        "senderId": message.sender_id,
        "timestamp": message.timestamp,
    }
    if message.sender_name is not None:
        payload["senderName"] = message.sender_name
    if message.client_msg_id is not None:
        payload["clientMsgId"] = message.client_msg_id
    return {
        "type": "chat",
        "payload": payload,
        "timestamp": message.timestamp,
        "senderId": message.sender_id,
        "room": message.room,
        "id": message.id,
        "seq": message.seq,
    }


def chat_frame(message: ChatMessage) -> str:
    return _dump(chat_frame_object(message))


def ack_frame(message: ChatMessage) -> str:
    payload = {
        "clientMsgId": message.client_msg_id,
        "id": message.id,
        "seq": message.seq,
        "room": message.room,
    }
    return _dump({"type": "ack", "payload": payload, "timestamp": now_ms(), "room": message.room})


def connected_frame(client_id: str) -> str:
    payload = {"message": "Connected successfully", "clientId": client_id}
    return _dump({"type": "notification", "payload": payload, "timestamp": now_ms()})


def error_frame(code: str, message: str, ref: str | None = None) -> str:
    ERRORS.labels(code[:40]).inc()
    payload = {"code": code, "message": message, "ref": ref}
    return _dump({"type": "error", "payload": payload, "timestamp": now_ms()})


def invalid_format_frame() -> str:
    """What the compatible form's clients expect for an unparsable frame."""
    return _dump(
        {
            "type": "notification",
            "payload": {"error": "Invalid message format"},
            "timestamp": now_ms(),
        }
    )


def pong_frame(fields: dict[str, Any]) -> str:
    return _dump({**fields, "type": "pong", "timestamp": fields.get("timestamp", now_ms())})
