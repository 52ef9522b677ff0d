"""What ``switchboard_runtime`` offers the services, pinned: a name added to or dropped from
the package's surface is a decision this test makes visible."""

import switchboard_runtime
from switchboard_devstack.exports import missing_exports, undeclared_modules


def test_public_exports_are_pinned() -> None:
    assert sorted(switchboard_runtime.__all__) == sorted(
        [
            "Bus",
            "BusUnavailableError",
            "Health",
            "PublishRetry",
            "PublishUnavailableError",
            "Reporting",
            "ServiceError",
            "ServiceSettings",
            "UnavailableError",
            "ensure_bucket",
            "ensure_consumer",
            "ensure_stream",
            "load_settings",
            "open_bucket",
            "publish_until_acked",
            "run_service",
            "service_routes",
            "start_reporting",
            "stream_publish",
        ]
    )
    assert missing_exports(switchboard_runtime) == []


def test_every_module_declares_what_it_offers() -> None:
    assert undeclared_modules(switchboard_runtime) == []
