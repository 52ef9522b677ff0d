from pydantic import Field
from switchboard_runtime import ServiceSettings

__all__ = ["ChatSettings"]


class ChatSettings(ServiceSettings):
    http_port: int = Field(default=8081, ge=0, le=65535)
    stream_replicas: int = Field(
        default=1, ge=1, le=5, description="CHAT stream replicas (3 on Kubernetes)"
    )
