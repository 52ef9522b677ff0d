"""History pages in their current state, without I/O: stream events and stored states in."""

from switchboard_contracts import ChatMessage, EventKind
from switchboard_gateway.chat.current_state import current_state, ids_to_look_up


def message(seq: int, content: str = "") -> ChatMessage:
    return ChatMessage(
        id=f"m{seq}", room="r", seq=seq, sender_id="al", content=content or f"v{seq}", timestamp=seq
    )


def event(seq: int, target: ChatMessage, kind: EventKind, content: str = "") -> ChatMessage:
    return ChatMessage(
        id=f"e{seq}",
        room="r",
        seq=seq,
        sender_id="al",
        content=content,
        timestamp=100 + seq,
        kind=kind,
        target_id=target.id,
        target_seq=target.seq,
    )


def test_the_ids_looked_up_are_the_messages_and_the_targets_of_the_events() -> None:
    first, second = message(1), message(2)
    page = [event(4, first, EventKind.EDIT, "x"), message(3), second]
    assert ids_to_look_up(page) == ["m1", "m2", "m3"]


def test_an_edit_not_stored_yet_is_applied_from_the_page() -> None:
    first = message(1)
    page = [event(3, first, EventKind.EDIT, "new"), event(2, first, EventKind.EDIT, "mid"), first]
    shown = current_state(page, {})
    assert [m.seq for m in shown] == [3, 2, 1]
    assert (shown[2].content, shown[2].edit_count, shown[2].edited_at) == ("new", 2, 103)


def test_a_stored_state_newer_than_the_page_s_edits_wins() -> None:
    first = message(1)
    stored = first.model_copy(
        update={"content": "later", "edit_count": 3, "edited_at": 150, "edited_seq": 50}
    )
    shown = current_state([event(2, first, EventKind.EDIT, "old"), first], {"m1": stored})
    assert shown[1] == stored


def test_a_deletion_in_the_page_or_stored_blanks_the_message_and_its_edits() -> None:
    first, second = message(1), message(2)
    page = [
        event(4, first, EventKind.DELETE),
        event(3, first, EventKind.EDIT, "secret"),
        second,
        first,
    ]
    shown = current_state(page, {})
    assert (shown[3].content, shown[3].deleted) == ("", True)
    assert shown[1].content == ""
    assert shown[2] == second
    stored_gone = second.model_copy(update={"content": "", "deleted": True})
    assert current_state([second], {"m2": stored_gone}) == [stored_gone]


def reaction(
    seq: int, target: ChatMessage, user: str, emoji: str, *, add: bool = True
) -> ChatMessage:
    kind = EventKind.REACT if add else EventKind.UNREACT
    return event(seq, target, kind, emoji).model_copy(update={"sender_id": user})


def test_the_newest_page_folds_reactions_from_its_own_events() -> None:
    first = message(1)
    page = [
        reaction(5, first, "al", "👍", add=False),
        reaction(4, first, "bo", "👍"),
        reaction(3, first, "al", "👍"),
        reaction(2, first, "al", "🎉"),
        first,
    ]
    [*_, shown] = current_state(page, {})
    assert [(r.emoji, r.count, r.users) for r in shown.reactions or []] == [
        ("🎉", 1, ["al"]),
        ("👍", 1, ["bo"]),
    ]


def test_stored_reactions_are_shown_where_postgresql_has_the_message() -> None:
    first = message(1)
    stored = first.model_copy(update={"reactions": []})
    [_, shown] = current_state([reaction(2, first, "al", "👍"), first], {"m1": stored})
    assert shown.reactions == []


def test_a_deleted_message_shows_no_reactions() -> None:
    first = message(1)
    page = [event(3, first, EventKind.DELETE), reaction(2, first, "al", "👍"), first]
    assert current_state(page, {})[2].reactions is None
