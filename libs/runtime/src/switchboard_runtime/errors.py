"""What the runtime raises, as one tree. Catch ``UnavailableError`` for "nothing answered in
time: the same request, with the same ids, may be tried again"; catch ``ServiceError`` for all.

    RuntimeError
    └── ServiceError
        ├── UnavailableError
        │   ├── PublishUnavailableError  a JetStream publish not acked within the deadline
        │   │                            (``publish_retry``): maybe stored, at most once on retry
        │   └── BusUnavailableError      nobody answered an endpoint in time (``Bus.ask``)
        └── SequencerError               an entry could not be ordered (``sequencer``); retry
                                         with the same message id

The services' own "unavailable" errors (the gateway's room, inbox and notification clients, chat's
store client) derive from ``UnavailableError`` too, so one ``except`` covers a dependency away.
Bus replies carry errors as ``switchboard_contracts.BusError`` values, not exceptions.
"""

__all__ = ["ServiceError", "UnavailableError"]


class ServiceError(RuntimeError):
    """Anything the runtime raises of its own."""


class UnavailableError(ServiceError):
    """A dependency (NATS, JetStream, a serving service, PostgreSQL behind it) did not answer in
    time; a retry may succeed."""
