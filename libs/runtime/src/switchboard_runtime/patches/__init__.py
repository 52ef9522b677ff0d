"""What reaches into uvicorn's and nats-py's internals, each pinned by a test of its own."""

__all__: list[str] = []
