from switchboard_runtime import load_settings, run_service

from switchboard_gateway.app import create_app
from switchboard_gateway.settings import GatewaySettings


def main() -> None:
    settings = load_settings(GatewaySettings)
    run_service(
        create_app(settings), settings, "gateway", websocket_max_bytes=settings.max_frame_bytes
    )


if __name__ == "__main__":
    main()
