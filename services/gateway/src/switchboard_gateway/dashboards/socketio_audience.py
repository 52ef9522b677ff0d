"""Who, among a gateway's Socket.IO clients, gets which dashboard event. Pure bookkeeping.

``/metrics`` clients join teams (any number); ``/logs`` clients have one subscription each: the
team whose view applies (the default view until they name one) and a ``LogFilter``.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from switchboard_contracts.dashboard import DEFAULT_VIEW, LogEntry

from switchboard_gateway.dashboards.log_filter import LogFilter

__all__ = ["LogSubscription", "SocketIoAudience"]

Sees = Callable[[str, str], bool]
"""(team, source) -> whether the team's view includes the source."""


@dataclass(frozen=True)
class LogSubscription:
    team: str = DEFAULT_VIEW
    filter: LogFilter | None = None
    """None until the client emits ``subscribe``: it then gets ``log-entry`` events only."""


class SocketIoAudience:
    def __init__(self) -> None:
        self._teams: dict[str, set[str]] = {}
        self._logs: dict[str, LogSubscription] = {}

    # /metrics

    def join_team(self, sid: str, team: str) -> None:
        self._teams.setdefault(team, set()).add(sid)

    def leave_team(self, sid: str, team: str) -> None:
        members = self._teams.get(team)
        if members is not None:
            members.discard(sid)
            if not members:
                del self._teams[team]

    def leave_all_teams(self, sid: str) -> None:
        for team in list(self._teams):
            self.leave_team(sid, team)

    def teams(self) -> dict[str, list[str]]:
        return {team: sorted(members) for team, members in self._teams.items()}

    def alert_recipients(self, source: str, sees: Sees) -> list[str]:
        """Every client in a team that sees ``source``, once however many such teams it joined."""
        found: set[str] = set()
        for team, members in self._teams.items():
            if sees(team, source):
                found |= members
        return sorted(found)

    # /logs

    def connect_logs(self, sid: str) -> None:
        self._logs[sid] = LogSubscription()

    def subscribe_logs(self, sid: str, subscription: LogSubscription) -> None:
        self._logs[sid] = subscription

    def disconnect_logs(self, sid: str) -> bool:
        return self._logs.pop(sid, None) is not None

    def log_recipients(self, entry: LogEntry, sees: Sees) -> tuple[list[str], list[str]]:
        """(who gets ``log-entry``: every ``/logs`` client whose team sees the source;
        who of them also gets ``filtered-log``: those whose subscription matches)."""
        everyone, matching = [], []
        for sid, subscription in self._logs.items():
            if not sees(subscription.team, entry.source):
                continue
            everyone.append(sid)
            if subscription.filter is not None and subscription.filter.matches(entry):
                matching.append(sid)
        return everyone, matching

    def log_clients(self) -> Iterable[str]:
        return self._logs.keys()
