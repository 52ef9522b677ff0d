from pydantic import Field
from switchboard_contracts.streams import NOTIFY
from switchboard_runtime import ServiceSettings

__all__ = ["NotificationSettings"]


class NotificationSettings(ServiceSettings):
    http_port: int = Field(default=8082, ge=0, le=65535)
    stream_replicas: int = Field(
        default=1, ge=1, le=5, description="NOTIFY stream replicas (3 on Kubernetes)"
    )
    notify_retention_seconds: float = Field(
        default=NOTIFY.max_age_seconds,
        gt=0,
        description="How long the NOTIFY stream keeps notifications; older ones replay from "
        "PostgreSQL",
    )
    bus_request_timeout_seconds: float = Field(default=5.0, gt=0)
    dead_letter_attempts: int = Field(
        default=3,
        ge=1,
        le=100,
        description="The delivery on which a broadcast job that fails for a reason that is not"
        " transient goes to the DEAD_LETTERS stream instead of being taken again",
    )
