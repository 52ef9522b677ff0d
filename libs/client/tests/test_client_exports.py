"""What ``switchboard_client`` offers an application, pinned: a name added to or dropped from
the package's surface is a decision this test makes visible."""

import importlib
import pkgutil

import switchboard_client


def test_public_exports_are_pinned() -> None:
    assert sorted(switchboard_client.__all__) == sorted(
        [
            "Ack",
            "Backoff",
            "ChatConnection",
            "ChatEvent",
            "ChatMessage",
            "Closed",
            "ErrorFrame",
            "FatalConnectionError",
            "Notification",
            "NotificationEvent",
            "NotificationStream",
            "OtherFrame",
            "Outbox",
            "Presence",
            "Replay",
            "RoomCursors",
            "StreamReady",
            "StreamReset",
            "Unread",
        ]
    )
    assert len(set(switchboard_client.__all__)) == len(switchboard_client.__all__)
    for name in switchboard_client.__all__:
        assert hasattr(switchboard_client, name)


def test_every_module_declares_what_it_offers() -> None:
    for module in pkgutil.iter_modules(switchboard_client.__path__):
        names = importlib.import_module(f"switchboard_client.{module.name}").__dict__
        assert "__all__" in names, f"switchboard_client.{module.name} declares no __all__"
