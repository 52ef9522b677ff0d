from switchboard_runtime import load_settings, run_service

from switchboard_metrics_collector.app import create_app
from switchboard_metrics_collector.settings import MetricsCollectorSettings


def main() -> None:
    settings = load_settings(MetricsCollectorSettings)
    run_service(create_app(settings), settings, "metrics-collector")


if __name__ == "__main__":
    main()
