from switchboard_chat.presence_state import PresenceState
from switchboard_contracts.presence import PresenceEntry, presence_key


def entry(
    room: str,
    user: str,
    gateway: str,
    at: int,
    meta: dict[str, object] | None = None,
    meta_at: int = 0,
) -> tuple[str, PresenceEntry]:
    return presence_key(room, user, gateway), PresenceEntry(
        room=room, user_id=user, gateway=gateway, connected_at=at, meta=meta or {}, meta_at=meta_at
    )


def test_a_user_on_two_gateways_is_one_entry_with_the_earliest_connection() -> None:
    state = PresenceState(max_listed=10)
    assert state.put(*entry("r", "alice", "gw1", 200), revision=1) == "r"
    assert state.put(*entry("r", "alice", "gw2", 100), revision=2) == "r"
    snapshot = state.snapshot("r")
    assert snapshot.count == 1
    assert [(u.user_id, u.connected_at) for u in snapshot.users] == [("alice", 100)]
    assert snapshot.revision == 2


def test_a_second_gateway_that_changes_nothing_visible_keeps_the_revision() -> None:
    state = PresenceState(max_listed=10)
    state.put(*entry("r", "alice", "gw1", 100), revision=1)
    assert state.put(*entry("r", "alice", "gw2", 300), revision=2) is None
    assert state.snapshot("r").revision == 1
    assert state.revision == 2


def test_metadata_of_several_gateways_merges_latest_change_last() -> None:
    state = PresenceState(max_listed=10)
    state.put(*entry("r", "a", "gw1", 1, {"status": "away", "x": 1}, meta_at=50), revision=1)
    state.put(*entry("r", "a", "gw2", 2, {"status": "busy"}, meta_at=40), revision=2)
    assert state.snapshot("r").users[0].meta == {"status": "away", "x": 1}


def test_deleting_the_last_entry_of_a_user_removes_them() -> None:
    state = PresenceState(max_listed=10)
    key, value = entry("r", "alice", "gw1", 1)
    state.put(key, value, revision=1)
    assert state.delete(key, revision=2) == "r"
    snapshot = state.snapshot("r")
    assert (snapshot.count, snapshot.users, snapshot.revision) == (0, [], 2)
    assert state.delete(key, revision=3) is None


def test_large_rooms_list_the_earliest_users_and_count_all() -> None:
    state = PresenceState(max_listed=3)
    for n in range(10):
        state.put(*entry("r", f"u{n}", "gw", 100 - n), revision=n + 1)
    snapshot = state.snapshot("r")
    assert snapshot.count == 10
    assert snapshot.truncated
    assert [u.user_id for u in snapshot.users] == ["u9", "u8", "u7"]


def test_keys_of_a_gateway_carry_their_revisions() -> None:
    state = PresenceState(max_listed=10)
    state.put(*entry("r1", "a", "gw1", 1), revision=5)
    state.put(*entry("r2", "b", "gw1", 1), revision=6)
    state.put(*entry("r1", "c", "gw2", 1), revision=7)
    assert sorted(state.keys_of("gw1")) == [("r1.a.gw1", 5), ("r2.b.gw1", 6)]
    assert state.gateways() == {"gw1", "gw2"}


def test_an_entry_under_a_key_that_does_not_match_it_is_ignored() -> None:
    state = PresenceState(max_listed=10)
    _, value = entry("r", "alice", "gw1", 1)
    assert state.put("r.mallory.gw1", value, revision=1) is None
    assert state.put("not-a-presence-key", value, revision=2) is None
    assert state.snapshot("r").count == 0


def test_entries_read_again_change_nothing_and_one_gone_meanwhile_is_dropped() -> None:
    """What a re-read of the bucket after a reconnect does: the same entries again are no
    change; a key the re-read no longer has is deleted at the newest revision seen."""
    state = PresenceState(max_listed=10)
    state.put(*entry("r", "alice", "gw1", 100), revision=1)
    state.put(*entry("r", "bob", "gw1", 100), revision=2)
    assert state.put(*entry("r", "alice", "gw1", 100), revision=1) is None
    gone = state.keys() - {presence_key("r", "alice", "gw1")}
    assert gone == {presence_key("r", "bob", "gw1")}
    assert state.delete(gone.pop(), state.revision) == "r"
    assert [u.user_id for u in state.snapshot("r").users] == ["alice"]
    assert state.snapshot("r").revision == 2
