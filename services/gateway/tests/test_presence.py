import pytest
from switchboard_gateway.chat.presence import LocalPresence, MetaTooLargeError


def test_two_tabs_of_a_user_are_one_entry_with_the_earlier_time() -> None:
    local = LocalPresence("gw")
    local.add("r", "al", "tab1", now_ms=200)
    local.add("r", "al", "tab2", now_ms=100)
    entry = local.entry("r", "al")
    assert entry is not None
    assert (entry.gateway, entry.connected_at) == ("gw", 100)
    local.remove("r", "al", "tab2")
    entry = local.entry("r", "al")
    assert entry is not None
    assert entry.connected_at == 200
    local.remove("r", "al", "tab1")
    assert local.entry("r", "al") is None
    assert local.keys() == []


def test_metadata_merges_per_connection_and_across_tabs_latest_wins() -> None:
    local = LocalPresence("gw")
    local.add("r", "al", "tab1", now_ms=1)
    local.add("r", "al", "tab2", now_ms=1)
    local.update_meta("r", "al", "tab1", {"status": "away", "device": "phone"}, now_ms=10)
    local.update_meta("r", "al", "tab2", {"status": "busy"}, now_ms=20)
    entry = local.entry("r", "al")
    assert entry is not None
    assert entry.meta == {"status": "busy", "device": "phone"}
    assert entry.meta_at == 20


def test_null_removes_a_metadata_key() -> None:
    local = LocalPresence("gw")
    local.add("r", "al", "tab", now_ms=1)
    local.update_meta("r", "al", "tab", {"status": "away"}, now_ms=2)
    local.update_meta("r", "al", "tab", {"status": None}, now_ms=3)
    entry = local.entry("r", "al")
    assert entry is not None
    assert entry.meta == {}


def test_metadata_growing_past_the_limit_is_refused_and_kept_as_it_was() -> None:
    local = LocalPresence("gw")
    local.add("r", "al", "tab", now_ms=1)
    local.update_meta("r", "al", "tab", {"a": "x" * 600}, now_ms=2)
    with pytest.raises(MetaTooLargeError, match="1024"):
        local.update_meta("r", "al", "tab", {"b": "y" * 600}, now_ms=3)
    entry = local.entry("r", "al")
    assert entry is not None
    assert set(entry.meta) == {"a"}
