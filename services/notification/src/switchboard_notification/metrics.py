"""The notification service's metrics, ``switchboard_notification_*``. Label ``type``: the
notification's type (info, warning, error, success). Deliveries to clients are counted by the
gateway (``switchboard_gateway_notification_deliveries_total``)."""

from prometheus_client import Counter

__all__ = ["BROADCASTS", "NOTIFICATION_TYPES", "SENDS"]

NOTIFICATION_TYPES = ("info", "warning", "error", "success")

SENDS = Counter(
    "switchboard_notification_sends_total",
    "Notifications created and stored in the NOTIFY stream, one per recipient, by type."
    " Incremented by the send and broadcast handlers once the stream acknowledged them.",
    ["type"],
)
BROADCASTS = Counter(
    "switchboard_notification_broadcasts_total",
    "Broadcast requests (to a team or to everyone), each fanning out to many SENDS",
)

for _type in NOTIFICATION_TYPES:
    SENDS.labels(_type)
