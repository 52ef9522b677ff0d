from pydantic import Field
from switchboard_runtime import ServiceSettings

__all__ = ["PersistenceSettings"]


class PersistenceSettings(ServiceSettings):
    http_port: int = Field(default=8083, ge=0, le=65535)
    database_url: str = Field(
        description="PostgreSQL DSN, e.g. postgresql://user@host:5432/switchboard"
    )
    database_pool_size: int = Field(default=10, ge=1)
    write_batch_size: int = Field(default=2000, ge=1, le=10_000)
    write_concurrency: int = Field(
        default=3,
        ge=1,
        le=16,
        description="Batches per stream unacked at once: one fetched while others are written"
        " (3: ~10% more messages/s than 2 on a 2-core machine, bench/REPORT.md's persistence)",
    )
    write_linger_seconds: float = Field(
        default=0.02,
        ge=0,
        le=1,
        description="After a fetch that drained a stream, wait this long before the next one"
        " (fewer, bigger batches under a steady load; 0: fetch again at once)",
    )
    chat_write_linger_seconds: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="WRITE_LINGER_SECONDS for the CHAT stream: nothing waits on its rows but"
        " history pages past the stream and late retries, so its batches can be bigger (at"
        " 2,000 messages/s 0.05 s cost persistence and PostgreSQL ~25 us less per message than"
        " 0.02; bench/profiles/README-durable-path.md)",
    )
    dead_letter_attempts: int = Field(
        default=3,
        ge=1,
        le=100,
        description="Failures about its data (PostgreSQL refusing it, alone) after which a"
        " message goes to the DEAD_LETTERS stream; earlier deliveries count as one each",
    )
    stream_replicas: int = Field(
        default=1, ge=1, le=5, description="DEAD_LETTERS stream replicas (3 on Kubernetes)"
    )
    migrate_on_start: bool = True
