"""``/chat/{roomId}``: the compatible WebSocket form, one connection in exactly one room."""

import asyncio
import logging
import secrets

from starlette.responses import JSONResponse
from starlette.websockets import WebSocket, WebSocketDisconnect
from switchboard_contracts import ChatSendRequest, InvalidIdError, validate_room_id

from switchboard_gateway import frames
from switchboard_gateway.chat_client import ChatClient
from switchboard_gateway.identity import IdentityError, resolve_user
from switchboard_gateway.outbox import Outbox
from switchboard_gateway.rooms import RoomHub
from switchboard_gateway.settings import GatewaySettings
from switchboard_gateway.users import UserHub

__all__ = ["ChatSocket"]

log = logging.getLogger(__name__)


class ChatSocket:
    def __init__(
        self, settings: GatewaySettings, hub: RoomHub, chat: ChatClient, users: UserHub
    ) -> None:
        self._settings = settings
        self._hub = hub
        self._chat = chat
        self._users = users
        self._sends: set[asyncio.Task[None]] = set()

    async def handle(self, websocket: WebSocket) -> None:
        try:
            room = validate_room_id(websocket.path_params["room_id"])
            user_id = resolve_user(websocket, self._settings.auth_enabled)
        except (InvalidIdError, IdentityError) as err:
            await websocket.send_denial_response(JSONResponse({"error": str(err)}, status_code=400))
            return
        await websocket.accept()
        outbox = Outbox(websocket, self._settings.outbox_frames)
        outbox.start()
        outbox.offer(frames.connected_frame(f"{user_id}-{secrets.token_hex(4)}"))
        await self._hub.join(room, outbox.offer)
        await self._users.join(user_id, outbox.offer)  # the user's notifications, live
        try:
            await self._receive(websocket, outbox, room, user_id)
        except WebSocketDisconnect:
            pass
        finally:
            await self._users.leave(user_id, outbox.offer)
            await self._hub.leave(room, outbox.offer)
            await outbox.stop()

    async def _receive(self, websocket: WebSocket, outbox: Outbox, room: str, user_id: str) -> None:
        while not outbox.closed.is_set():
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("text") if message.get("text") is not None else message.get("bytes")
            frame = frames.parse_client_frame(data or b"")
            if isinstance(frame, frames.FrameError):
                outbox.offer(frames.error_frame(frame.code, frame.message, frame.ref))
                if frame.unparsable:
                    outbox.offer(frames.invalid_format_frame())
            elif isinstance(frame, frames.PingFrame):
                outbox.offer(frames.pong_frame(frame.fields))
            else:
                request = ChatSendRequest(
                    room=room,
                    user_id=user_id,
                    content=frame.content,
                    sender_name=frame.sender_name,
                    client_msg_id=frame.client_msg_id,
                )
                task = asyncio.create_task(self._send(request, outbox))
                self._sends.add(task)
                task.add_done_callback(self._sends.discard)

    async def _send(self, request: ChatSendRequest, outbox: Outbox) -> None:
        reply = await self._chat.send(request)
        if reply.message is not None:
            outbox.offer(frames.ack_frame(reply.message))
        elif reply.error is not None:
            outbox.offer(
                frames.error_frame(reply.error.code, reply.error.message, request.client_msg_id)
            )
