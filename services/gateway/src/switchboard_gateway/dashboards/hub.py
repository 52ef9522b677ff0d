"""Dashboard subscribers that the gateway writes to itself: SSE streams and ``/ws`` rooms
``dashboard:<team>``.

A subscriber is a team, a way to deliver text (which must never wait: an outbox's ``offer``),
how many frames still wait to be written to it (for conflation), the form it wants (SSE or
``/ws`` frames) and which log entries it wants. Every event is encoded once for all of them.

Hooking the ``/ws`` endpoint: on ``join`` of a room for which ``dashboard_team(room)`` gives a
team, call ``hub.join(DashboardSubscriber(team, outbox.offer, outbox.pending, WS))``; keep the
subscriber and pass it to ``hub.leave`` on ``leave`` and on disconnect.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from switchboard_contracts.dashboard import DashboardAlert, DashboardUpdate, LogEntry
from switchboard_contracts.ids import ID_PATTERN

from switchboard_gateway.dashboards.conflation import ConflationPolicy
from switchboard_gateway.dashboards.events import (
    ALERT,
    LOG_ENTRY,
    METRICS_UPDATE,
    ROOM_PREFIX,
    DashboardEvent,
    alert_payload,
    log_payload,
    metrics_payload,
)
from switchboard_gateway.dashboards.feed import DashboardFeed
from switchboard_gateway.dashboards.log_filter import LogFilter

__all__ = ["SSE", "WS", "DashboardHub", "DashboardSubscriber", "dashboard_team"]

Form = Literal["sse", "ws"]
SSE: Form = "sse"
WS: Form = "ws"


def dashboard_team(room: str) -> str | None:
    """The team of a ``/ws`` room named ``dashboard:<team>``; None for any other room (or a
    malformed team, which the caller refuses as it refuses a bad room id)."""
    if not room.startswith(ROOM_PREFIX):
        return None
    team = room.removeprefix(ROOM_PREFIX)
    return team if ID_PATTERN.fullmatch(team) else None


def _nothing_queued() -> int:
    return 0


@dataclass(eq=False)
class DashboardSubscriber:
    team: str
    deliver: Callable[[str], None]
    backlog: Callable[[], int] = _nothing_queued
    form: Form = WS
    logs: LogFilter | None = None
    """The log entries wanted (of those the team sees); None for all of them."""
    wants_logs: bool = True
    close: Callable[[], None] | None = None
    """Ends the subscriber's stream when the gateway stops (SSE); None where the server's own
    shutdown ends the connection (WebSocket)."""

    def render(self, event: DashboardEvent) -> str:
        return event.sse() if self.form == SSE else event.frame(self.team)


class DashboardHub:
    def __init__(self, feed: DashboardFeed, policy: ConflationPolicy) -> None:
        self._feed = feed
        self._policy = policy
        self._teams: dict[str, set[DashboardSubscriber]] = {}
        feed.add_listener(self)

    def subscriber_count(self) -> int:
        return sum(len(members) for members in self._teams.values())

    def join(self, subscriber: DashboardSubscriber) -> None:
        """Add a subscriber and give it the current metrics and active alerts right away."""
        self._teams.setdefault(subscriber.team, set()).add(subscriber)
        if subscriber.wants_logs:
            self._feed.want_logs(True)
        latest = self._feed.latest
        if latest is not None:
            view = latest.view(subscriber.team)
            subscriber.deliver(
                subscriber.render(DashboardEvent(METRICS_UPDATE, metrics_payload(view.metrics)))
            )
            for alert in latest.active_alerts:
                if view.sees(alert.source):
                    subscriber.deliver(
                        subscriber.render(DashboardEvent(ALERT, alert_payload(alert)))
                    )

    def leave(self, subscriber: DashboardSubscriber) -> None:
        members = self._teams.get(subscriber.team)
        if members is None or subscriber not in members:
            return
        members.discard(subscriber)
        if not members:
            del self._teams[subscriber.team]
        if subscriber.wants_logs:
            self._feed.want_logs(False)

    def drain(self) -> None:
        """The gateway is stopping: end every stream that would not end by itself."""
        for members in list(self._teams.values()):
            for subscriber in tuple(members):
                if subscriber.close is not None:
                    subscriber.close()

    def _send(self, subscriber: DashboardSubscriber, event: DashboardEvent) -> None:
        if self._policy.admits(event.kind, subscriber.backlog()):
            subscriber.deliver(subscriber.render(event))

    async def on_update(self, update: DashboardUpdate) -> None:
        for team, members in list(self._teams.items()):
            event = DashboardEvent(METRICS_UPDATE, metrics_payload(update.view(team).metrics))
            for subscriber in tuple(members):
                self._send(subscriber, event)

    async def on_alert(self, alert: DashboardAlert) -> None:
        latest = self._feed.latest
        event = DashboardEvent(ALERT, alert_payload(alert))
        for team, members in list(self._teams.items()):
            if latest is None or latest.view(team).sees(alert.source):
                for subscriber in tuple(members):
                    self._send(subscriber, event)

    async def on_log(self, entry: LogEntry) -> None:
        latest = self._feed.latest
        if latest is None:
            return  # which team sees what is not known yet
        event = DashboardEvent(LOG_ENTRY, log_payload(entry))
        for team, members in list(self._teams.items()):
            if not latest.view(team).sees(entry.source):
                continue
            for subscriber in tuple(members):
                if subscriber.wants_logs and (
                    subscriber.logs is None or subscriber.logs.matches(entry)
                ):
                    self._send(subscriber, event)
