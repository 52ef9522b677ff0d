from switchboard_runtime import load_settings, run_service

from switchboard_chat.app import create_app
from switchboard_chat.settings import ChatSettings


def main() -> None:
    settings = load_settings(ChatSettings)
    run_service(create_app(settings), settings, "chat")


if __name__ == "__main__":
    main()
