from pydantic import Field
from switchboard_runtime import ServiceSettings

__all__ = ["NotificationSettings"]


class NotificationSettings(ServiceSettings):
    http_port: int = Field(default=8082, ge=0, le=65535)
    stream_replicas: int = Field(
        default=1, ge=1, le=5, description="NOTIFY stream replicas (3 on Kubernetes)"
    )
