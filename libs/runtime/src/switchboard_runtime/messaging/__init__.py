"""The bus: the NATS connection, request/reply endpoints, JetStream publishing and consuming."""

__all__: list[str] = []
