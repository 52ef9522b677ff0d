"""``switchboard-persistence`` serves; ``switchboard-persistence migrate`` migrates and exits."""

import asyncio
import sys

from switchboard_runtime import load_settings, run_service
from switchboard_runtime.service.run import configure_logging

from switchboard_persistence.app import create_app
from switchboard_persistence.migrate import migrate_database
from switchboard_persistence.settings import PersistenceSettings


def main() -> None:
    settings = load_settings(PersistenceSettings)
    if sys.argv[1:] == ["migrate"]:
        configure_logging(settings, "persistence")
        asyncio.run(migrate_database(settings.database_url))
        return
    if sys.argv[1:]:
        sys.exit(f"usage: switchboard-persistence [migrate] (got {' '.join(sys.argv[1:])!r})")
    run_service(create_app(settings), settings, "persistence")


if __name__ == "__main__":
    main()
