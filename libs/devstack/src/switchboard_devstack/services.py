"""The five services: their entry points and the ports ``make dev`` gives them."""

from dataclasses import dataclass

__all__ = ["SERVICES", "ServiceSpec", "service"]


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    dev_port: int
    needs_database: bool = False

    @property
    def script(self) -> str:
        return f"switchboard-{self.name}"


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("persistence", 8083, needs_database=True),
    ServiceSpec("chat", 8081),
    ServiceSpec("notification", 8082),
    ServiceSpec("metrics-collector", 8084),
    ServiceSpec("gateway", 8080),
)


def service(name: str) -> ServiceSpec:
    for spec in SERVICES:
        if spec.name == name:
            return spec
    raise KeyError(f"no service named {name!r}; known: {', '.join(s.name for s in SERVICES)}")
