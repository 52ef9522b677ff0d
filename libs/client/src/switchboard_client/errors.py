"""The client's errors, one tree (catch ``ClientError`` for all of them):

ClientError
├── ConnectFailedError     no connection; ``status`` is the HTTP status when the server
│                          answered with one (a retry may help, unless it is 4xx)
├── TransportClosedError   the connection ended; ``code`` is the WebSocket close code
└── FatalConnectionError   the server refused us in a way a retry cannot fix (a close code
                           that ``switchboard_protocol.CloseCode`` marks final)
"""

__all__ = ["ClientError", "ConnectFailedError", "FatalConnectionError", "TransportClosedError"]


class ClientError(Exception):
    """Anything the Switchboard client raises of its own."""


class ConnectFailedError(ClientError):
    """No connection; ``status`` is the HTTP status when the server answered with one."""

    def __init__(self, status: int | None, detail: str = "") -> None:
        super().__init__(f"could not connect ({status}): {detail}")
        self.status = status


class TransportClosedError(ClientError):
    """The connection ended; ``code`` is the WebSocket close code when one was received."""

    def __init__(self, code: int | None, reason: str = "") -> None:
        super().__init__(f"connection closed ({code})")
        self.code = code
        self.reason = reason


class FatalConnectionError(ClientError):
    """The server refused us in a way a retry cannot fix (bad user or token, policy)."""
