"""Switchboard on one machine: embedded NATS and PostgreSQL and the five services as processes.

Used by ``make dev`` (``switchboard-dev``) and by the component and end-to-end test fixtures.
"""

from switchboard_devstack.nats_server import NatsServer
from switchboard_devstack.ports import free_port
from switchboard_devstack.postgres_server import PostgresServer
from switchboard_devstack.process import ManagedProcess
from switchboard_devstack.services import SERVICES, ServiceSpec
from switchboard_devstack.stack import Stack

__all__ = [
    "SERVICES",
    "ManagedProcess",
    "NatsServer",
    "PostgresServer",
    "ServiceSpec",
    "Stack",
    "free_port",
]
