"""What ``switchboard_runtime`` offers the services, pinned: a name added to or dropped from
the package's surface is a decision this test makes visible."""

import importlib
import pkgutil

import switchboard_runtime


def test_public_exports_are_pinned() -> None:
    assert sorted(switchboard_runtime.__all__) == sorted(
        [
            "Bus",
            "Health",
            "PublishRetry",
            "PublishUnavailableError",
            "Reporting",
            "ServiceSettings",
            "ensure_bucket",
            "ensure_consumer",
            "ensure_stream",
            "load_settings",
            "open_bucket",
            "publish_until_acked",
            "run_service",
            "serve_requests",
            "service_routes",
            "start_reporting",
            "stream_publish",
        ]
    )
    assert len(set(switchboard_runtime.__all__)) == len(switchboard_runtime.__all__)
    for name in switchboard_runtime.__all__:
        assert hasattr(switchboard_runtime, name)


def test_every_module_declares_what_it_offers() -> None:
    for module in pkgutil.iter_modules(switchboard_runtime.__path__):
        names = importlib.import_module(f"switchboard_runtime.{module.name}").__dict__
        assert "__all__" in names, f"switchboard_runtime.{module.name} declares no __all__"
