"""The base of every message on the bus: typed, versioned, JSON on the wire."""

import re
from typing import Self

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

__all__ = ["BusMessage"]

# An escaped U+0000 in a JSON string: "\u0000" after an even number of backslashes (an odd
# number before the "u" would make it the text "\u0000", which is allowed).
_ESCAPED_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


class BusMessage(BaseModel):
    """A message schema. ``v`` is the schema version; readers ignore fields they do not know.

    A breaking change gets a new model with a higher ``v`` and a new subject; additive changes
    keep ``v`` and add optional fields.

    ``decode`` applies the input rule of ``switchboard_contracts.input_rules`` (no NUL, no lone
    surrogate, finite numbers, bounded nesting), so that a message from a buggy or older peer is
    refused as a ``ValidationError`` rather than reaching PostgreSQL or a client.
    """

    model_config = ConfigDict(frozen=True, extra="ignore", allow_inf_nan=False)

    v: int = 1

    def encode(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()

    @classmethod
    def decode(cls, data: bytes) -> Self:
        # pydantic's parser already refuses lone surrogates and invalid UTF-8, and nests at most
        # a few hundred levels (models are typed: only free-form fields could nest at all); a
        # NUL is looked for only when an escape of it is there.
        if b"\\u0000" in data and _ESCAPED_NUL.search(data):
            raise _refusal(cls, "a string must not contain U+0000 (NUL)")
        return cls.model_validate_json(data)


def _refusal(model: type[BaseModel], problem: str) -> ValidationError:
    """``problem`` (the input rule's) as the ``ValidationError`` every consumer of ``decode``
    already handles."""
    detail = InitErrorDetails(
        type=PydanticCustomError("input_rule", "{problem}", {"problem": problem}),
        loc=(),
        input=None,
    )
    return ValidationError.from_exception_data(model.__name__, [detail])
