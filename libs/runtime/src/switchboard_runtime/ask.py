"""Asking another service over request/reply: a typed reply, or a BusError saying why not."""

from typing import TypeVar

from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from pydantic import ValidationError
from switchboard_contracts import BusError, BusMessage, ErrorCode

__all__ = ["ask"]

Rep = TypeVar("Rep", bound=BusMessage)


async def ask(
    nc: Client, subject: str, request: BusMessage, reply_type: type[Rep], timeout: float
) -> Rep | BusError:
    """Send ``request`` on ``subject``; a missing, late or undecodable answer is a BusError."""
    try:
        reply = await nc.request(subject, request.encode(), timeout=timeout)
    except (NatsTimeoutError, NoRespondersError):
        return BusError(
            code=ErrorCode.UNAVAILABLE, message=f"{subject} did not answer in time; retry"
        )
    try:
        return reply_type.decode(reply.data)
    except ValidationError:
        return BusError(code=ErrorCode.INTERNAL, message=f"{subject} gave an unreadable answer")
