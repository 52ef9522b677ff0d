from pydantic import Field
from switchboard_runtime import ServiceSettings

__all__ = ["ChatSettings"]


class ChatSettings(ServiceSettings):
    http_port: int = Field(default=8081, ge=0, le=65535)
    stream_replicas: int = Field(
        default=1, ge=1, le=5, description="CHAT stream and presence bucket replicas (3 on k8s)"
    )
    duplicate_window_seconds: float = Field(
        default=600,
        gt=0,
        description="JetStream's duplicate window of the CHAT stream; retries after it are"
        " recognised through PostgreSQL",
    )
    store_timeout_seconds: float = Field(
        default=5.0, gt=0, description="How long chat waits for persistence's answers"
    )
    message_lookup_timeout_seconds: float = Field(
        default=1.0,
        gt=0,
        description="How long a lookup request (the messages with a clientMsgId gathered"
        " meanwhile) waits for PostgreSQL's word on whether they were stored before; a message"
        " waits at most twice this (the request in flight, then its own) and the interval below",
    )
    change_target_wait_seconds: float = Field(
        default=1.5,
        ge=0,
        le=10,
        description="How long an edit or a deletion waits, in all, for its target to be stored"
        " (persistence writes a message just after its ack) before it is refused not_found",
    )
    message_lookup_interval_seconds: float = Field(
        default=0.002,
        ge=0,
        le=1,
        description="Lookup requests start at least this far apart; the messages arriving"
        " meanwhile go together (fewer requests under load; a lone message goes at once)",
    )
    presence_ttl_seconds: float = Field(
        default=15.0,
        ge=3,
        description="A gateway that stops heartbeating loses its presence entries after this",
    )
    presence_coalesce_seconds: float = Field(
        default=0.25, ge=0, description="At most one presence snapshot per room per interval"
    )
    presence_max_listed: int = Field(
        default=100,
        ge=1,
        description="Rooms with more users list this many in onlineUsers; count stays exact",
    )
