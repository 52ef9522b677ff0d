"""Dashboards over Socket.IO (path ``/socket.io/``), for existing Socket.IO dashboards.

Namespace ``/metrics``: the client emits ``join-team`` with a team id (a string, or
``{"team": …}``); it gets the team's current ``metrics-update`` at once, then one every second,
and every ``alert``. ``leave-team`` undoes it. Namespace ``/logs``: every client gets
``log-entry`` for each entry; after ``subscribe`` with ``{"level"?, "source"?, "team"?}`` it also
gets ``filtered-log`` for the entries that match. Bad input gets an ``error`` event
``{"code", "message"}`` and, when the client asked for one, a ``{"success": false, "error"}`` ack.
"""

import logging
from typing import Any

import socketio
from starlette.requests import HTTPConnection
from switchboard_contracts.dashboard import (
    DEFAULT_VIEW,
    DashboardAlert,
    DashboardUpdate,
    LogEntry,
)
from switchboard_contracts.ids import ID_PATTERN

from switchboard_gateway.dashboards.conflation import ConflationPolicy
from switchboard_gateway.dashboards.events import (
    ALERT,
    LOG_ENTRY,
    METRICS_UPDATE,
    alert_payload,
    log_payload,
    metrics_payload,
)
from switchboard_gateway.dashboards.feed import DashboardFeed
from switchboard_gateway.dashboards.log_filter import LogFilterError, parse_log_filter
from switchboard_gateway.dashboards.socketio_audience import LogSubscription, SocketIoAudience
from switchboard_gateway.edge.identity import IdentityError, identity_of, resolve_user, team_refusal
from switchboard_gateway.edge.tokens import Identity

__all__ = ["LOGS", "METRICS", "SocketIoDashboard"]

log = logging.getLogger(__name__)

METRICS = "/metrics"
LOGS = "/logs"
TEAM_ROOM_PREFIX = "team:"

Ack = dict[str, Any]


def _team_of(data: Any) -> str:
    team = data.get("team", data.get("teamId")) if isinstance(data, dict) else data
    if not isinstance(team, str) or not ID_PATTERN.fullmatch(team):
        raise ValueError("a team id of 1-64 letters, digits, '-' or '_' is required")
    return team


class SocketIoDashboard:
    def __init__(
        self,
        sio: socketio.AsyncServer,
        feed: DashboardFeed,
        policy: ConflationPolicy,
        auth_enabled: bool,
    ) -> None:
        self._sio = sio
        self._feed = feed
        self._policy = policy
        self._auth_enabled = auth_enabled
        self.audience = SocketIoAudience()
        self._identities: dict[str, Identity | None] = {}
        feed.add_listener(self)
        sio.on("connect", self._metrics_connect, namespace=METRICS)
        sio.on("join-team", self._join_team, namespace=METRICS)
        sio.on("leave-team", self._leave_team, namespace=METRICS)
        sio.on("disconnect", self._metrics_disconnect, namespace=METRICS)
        sio.on("connect", self._logs_connect, namespace=LOGS)
        sio.on("subscribe", self._subscribe, namespace=LOGS)
        sio.on("disconnect", self._logs_disconnect, namespace=LOGS)

    # -- client events

    def _identify(self, sid: str, environ: dict[str, Any]) -> str:
        """The user, as for every other connection; a refusal is the client's connect_error."""
        connection = HTTPConnection(environ["asgi.scope"])
        try:
            user = resolve_user(connection, self._auth_enabled)
        except IdentityError as err:
            raise socketio.exceptions.ConnectionRefusedError(str(err)) from None
        self._identities[sid] = identity_of(connection)
        return user

    def _team_refusal(self, sid: str, team: str) -> str | None:
        return team_refusal(self._identities.get(sid), self._auth_enabled, team)

    async def _metrics_connect(self, sid: str, environ: dict[str, Any], *_: Any) -> None:
        self._identify(sid, environ)

    async def _refuse(self, sid: str, namespace: str, code: str, message: str) -> Ack:
        await self._sio.emit(
            "error", {"code": code, "message": message}, to=sid, namespace=namespace
        )
        return {"success": False, "error": message}

    async def _join_team(self, sid: str, data: Any = None) -> Ack:
        try:
            team = _team_of(data)
        except ValueError as err:
            return await self._refuse(sid, METRICS, "invalid_team", str(err))
        refused = self._team_refusal(sid, team)
        if refused is not None:
            return await self._refuse(sid, METRICS, "forbidden", refused)
        self.audience.join_team(sid, team)
        await self._sio.enter_room(sid, TEAM_ROOM_PREFIX + team, namespace=METRICS)
        latest = self._feed.latest
        if latest is not None:
            view = latest.view(team)
            await self._emit(METRICS_UPDATE, metrics_payload(view.metrics), [sid], METRICS)
            for alert in latest.active_alerts:
                if view.sees(alert.source):
                    await self._emit(ALERT, alert_payload(alert), [sid], METRICS)
        return {"success": True, "team": team}

    async def _leave_team(self, sid: str, data: Any = None) -> Ack:
        try:
            team = _team_of(data)
        except ValueError as err:
            return await self._refuse(sid, METRICS, "invalid_team", str(err))
        self.audience.leave_team(sid, team)
        await self._sio.leave_room(sid, TEAM_ROOM_PREFIX + team, namespace=METRICS)
        return {"success": True, "team": team}

    async def _metrics_disconnect(self, sid: str, *_: Any) -> None:
        self._identities.pop(sid, None)
        self.audience.leave_all_teams(sid)

    async def _logs_connect(self, sid: str, environ: dict[str, Any], *_: Any) -> None:
        self._identify(sid, environ)
        self.audience.connect_logs(sid)
        self._feed.want_logs(True)

    async def _subscribe(self, sid: str, data: Any = None) -> Ack:
        if data is not None and not isinstance(data, dict):
            return await self._refuse(
                sid, LOGS, "invalid_subscription", 'subscribe takes {"level"?, "source"?}'
            )
        fields: dict[str, Any] = data or {}
        try:
            team = _team_of(fields) if fields.get("team") is not None else None
            wanted = parse_log_filter(fields.get("level"), fields.get("source"))
        except (ValueError, LogFilterError) as err:
            return await self._refuse(sid, LOGS, "invalid_subscription", str(err))
        refused = None if team is None else self._team_refusal(sid, team)
        if refused is not None:
            return await self._refuse(sid, LOGS, "forbidden", refused)
        self.audience.subscribe_logs(sid, LogSubscription(team or DEFAULT_VIEW, wanted))
        await self._feed.logs_followed()  # the ack means: entries from now on reach you
        return {"success": True, **wanted.describe()}

    async def _logs_disconnect(self, sid: str, *_: Any) -> None:
        self._identities.pop(sid, None)
        if self.audience.disconnect_logs(sid):
            self._feed.want_logs(False)

    # -- events from the bus

    def _backlog(self, sid: str, namespace: str) -> int:
        """Packets queued for the client and not yet written: how far behind it is."""
        eio_sid = self._sio.manager.eio_sid_from_sid(sid, namespace)
        socket = self._sio.eio.sockets.get(eio_sid) if eio_sid is not None else None
        queue = getattr(socket, "queue", None)
        return int(queue.qsize()) if queue is not None else 0

    async def _emit(self, event: str, payload: Any, to: list[str], namespace: str) -> None:
        """One packet, encoded once, to this gateway's clients ``to`` (not via other replicas:
        each gets the event from the bus itself)."""
        if to:
            await self._sio.emit(event, payload, to=to, namespace=namespace, ignore_queue=True)

    def _admitted(self, kind: Any, sids: list[str], namespace: str) -> list[str]:
        return [sid for sid in sids if self._policy.admits(kind, self._backlog(sid, namespace))]

    def _sees(self, team: str, source: str) -> bool:
        latest = self._feed.latest
        return latest is None or latest.view(team).sees(source)

    async def on_update(self, update: DashboardUpdate) -> None:
        for team, sids in self.audience.teams().items():
            payload = metrics_payload(update.view(team).metrics)
            await self._emit(
                METRICS_UPDATE, payload, self._admitted(METRICS_UPDATE, sids, METRICS), METRICS
            )

    async def on_alert(self, alert: DashboardAlert) -> None:
        recipients = self.audience.alert_recipients(alert.source, self._sees)
        await self._emit(ALERT, alert_payload(alert), recipients, METRICS)

    async def on_log(self, entry: LogEntry) -> None:
        if self._feed.latest is None:
            return  # which team sees what is not known yet
        everyone, matching = self.audience.log_recipients(entry, self._sees)
        payload = log_payload(entry)
        await self._emit(LOG_ENTRY, payload, self._admitted(LOG_ENTRY, everyone, LOGS), LOGS)
        await self._emit("filtered-log", payload, self._admitted(LOG_ENTRY, matching, LOGS), LOGS)
