"""The base of every message on the bus: typed, versioned, JSON on the wire."""

from typing import Self

from pydantic import BaseModel, ConfigDict

__all__ = ["BusMessage"]


class BusMessage(BaseModel):
    """A message schema. ``v`` is the schema version; readers ignore fields they do not know.

    A breaking change gets a new model with a higher ``v`` and a new subject; additive changes
    keep ``v`` and add optional fields.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    v: int = 1

    def encode(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()

    @classmethod
    def decode(cls, data: bytes) -> Self:
        return cls.model_validate_json(data)
