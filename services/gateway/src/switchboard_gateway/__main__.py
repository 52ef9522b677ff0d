from switchboard_runtime import load_settings, run_service

from switchboard_gateway.app import create_app
from switchboard_gateway.settings import GatewaySettings


def main() -> None:
    settings = load_settings(GatewaySettings)
    run_service(
        create_app(settings),
        settings,
        "gateway",
        ws_ping_interval=settings.ws_ping_interval_seconds,
        ws_ping_timeout=settings.ws_ping_timeout_seconds,
        ws_max_size=settings.ws_max_frame_bytes,
    )


if __name__ == "__main__":
    main()
