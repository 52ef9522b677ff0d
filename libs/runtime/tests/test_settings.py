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
