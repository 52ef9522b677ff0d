from switchboard_runtime import load_settings, run_service

from switchboard_notification.app import create_app
from switchboard_notification.settings import NotificationSettings


def main() -> None:
    settings = load_settings(NotificationSettings)
    run_service(create_app(settings), settings, "notification")


if __name__ == "__main__":
    main()
