import pytest
from pydantic import Field
from switchboard_runtime import ServiceSettings, load_settings


class NeedsDatabase(ServiceSettings):
    database_url: str = Field()


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PORT", "9999")
    monkeypatch.setenv("NATS_URL", "nats://example:4222")
    settings = load_settings(ServiceSettings)
    assert settings.http_port == 9999
    assert settings.nats_url == "nats://example:4222"


def test_a_missing_setting_stops_the_service_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(SystemExit) as exited:
        load_settings(NeedsDatabase)
    assert exited.value.code == 2
    assert "DATABASE_URL" in capsys.readouterr().err


def test_an_invalid_setting_stops_the_service_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HTTP_PORT", "eighty")
    with pytest.raises(SystemExit):
        load_settings(ServiceSettings)
    assert "HTTP_PORT" in capsys.readouterr().err


def test_nats_defaults_notice_a_dead_server_within_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/reliability.md states these bounds; changing a default changes them."""
    for name in (
        "NATS_PING_INTERVAL_SECONDS",
        "NATS_MAX_OUTSTANDING_PINGS",
        "NATS_RECONNECT_WAIT_SECONDS",
        "NATS_RECONNECT_JITTER_SECONDS",
        "NATS_CONNECT_TIMEOUT_SECONDS",
        "PUBLISH_DEADLINE_SECONDS",
        "PUBLISH_ATTEMPT_TIMEOUT_SECONDS",
    ):
        monkeypatch.delenv(name, raising=False)
    settings = ServiceSettings()
    assert settings.nats_ping_interval_seconds == 2
    assert settings.nats_max_outstanding_pings == 2
    hang_noticed_within = (
        settings.nats_max_outstanding_pings + 1
    ) * settings.nats_ping_interval_seconds
    assert hang_noticed_within == 6
    assert settings.nats_reconnect_wait_seconds == 0.25
    assert settings.nats_reconnect_jitter_seconds == 0.25
    assert settings.nats_connect_timeout_seconds == 2
    # Below the gateway's BUS_REQUEST_TIMEOUT_SECONDS (5 s): the client gets a real answer.
    assert settings.publish_deadline_seconds == 4.0
    assert settings.publish_attempt_timeout_seconds == 1.0
