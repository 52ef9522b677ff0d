"""A dashboard client's log subscription: a minimum level and/or a source."""

import pytest
from switchboard_contracts.dashboard import LogEntry
from switchboard_gateway.dashboards.log_filter import LogFilter, LogFilterError, parse_log_filter


def entry(level: str, source: str = "chat") -> LogEntry:
    return LogEntry.model_validate(
        {"level": level, "message": "m", "source": source, "timestamp": 1}
    )


def test_a_level_means_that_level_and_above() -> None:
    wanted = parse_log_filter(level="warning")
    assert [wanted.matches(entry(level)) for level in ("info", "warning", "critical")] == [
        False,
        True,
        True,
    ]


def test_a_source_means_that_source_only() -> None:
    wanted = parse_log_filter(source="chat")
    assert wanted.matches(entry("debug", "chat"))
    assert not wanted.matches(entry("critical", "gateway"))


def test_nothing_given_matches_everything() -> None:
    assert parse_log_filter() == LogFilter()
    assert parse_log_filter("", "").matches(entry("debug", "any"))


@pytest.mark.parametrize(("given", "level"), [("WARN", "warning"), ("Error", "error")])
def test_levels_are_case_insensitive_and_warn_is_warning(given: str, level: str) -> None:
    assert parse_log_filter(level=given).level == level


@pytest.mark.parametrize(
    ("level", "source", "named"),
    [("loud", None, "level"), (3, None, "level"), (None, "a.b", "source"), (None, 7, "source")],
)
def test_bad_values_are_refused_naming_the_field(level: object, source: object, named: str) -> None:
    with pytest.raises(LogFilterError, match=named):
        parse_log_filter(level, source)
