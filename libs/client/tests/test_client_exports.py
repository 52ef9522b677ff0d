"""What ``switchboard_client`` offers an application, pinned: a name added to or dropped from
the package's surface is a decision this test makes visible."""

import switchboard_client
from switchboard_devstack.exports import missing_exports, undeclared_modules


def test_public_exports_are_pinned() -> None:
    assert sorted(switchboard_client.__all__) == sorted(
        [
            "Ack",
            "Backoff",
            "ChatConnection",
            "ChatEvent",
            "Change",
            "ChatMessage",
            "ClientError",
            "Closed",
            "ConnectFailedError",
            "ErrorFrame",
            "Joined",
            "FatalConnectionError",
            "Notification",
            "NotificationEvent",
            "NotificationStream",
            "OtherFrame",
            "Outbox",
            "Presence",
            "ReadMark",
            "Replay",
            "RoomCursors",
            "StreamReady",
            "StreamReset",
            "TransportClosedError",
            "Unread",
        ]
    )
    assert missing_exports(switchboard_client) == []


def test_every_module_declares_what_it_offers() -> None:
    assert undeclared_modules(switchboard_client) == []
