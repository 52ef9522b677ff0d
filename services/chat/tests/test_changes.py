from switchboard_chat.changes import change_content, change_event, change_refusal
from switchboard_contracts import BusError, ChatMessage, ChatSendRequest, ErrorCode, EventKind
from switchboard_contracts.reactions import Reaction

TARGET = ChatMessage(id="m-1", room="r", seq=4, sender_id="al", content="hi", timestamp=1)


def edit(user: str = "al", *, moderator: bool = False, content: str = " new ") -> ChatSendRequest:
    return ChatSendRequest(
        room="r",
        user_id=user,
        content=content,
        client_msg_id="e-1",
        kind=EventKind.EDIT,
        target_id="m-1",
        moderator=moderator,
    )


def delete(user: str = "al") -> ChatSendRequest:
    return ChatSendRequest(
        room="r", user_id=user, content="", kind=EventKind.DELETE, target_id="m-1"
    )


def code(refusal: BusError | str | None) -> ErrorCode | None:
    return refusal.code if isinstance(refusal, BusError) else None


def test_the_author_may_edit_and_delete_their_message() -> None:
    assert change_refusal(edit(), TARGET) is None
    assert change_refusal(delete(), TARGET) is None


def test_another_user_is_forbidden_naming_the_message() -> None:
    refusal = change_refusal(edit("bob"), TARGET)
    assert code(refusal) is ErrorCode.FORBIDDEN
    assert refusal is not None
    assert "m-1" in refusal.message
    assert code(change_refusal(delete("bob"), TARGET)) is ErrorCode.FORBIDDEN


def test_a_moderator_may_edit_anyone_s_message() -> None:
    assert change_refusal(edit("mod", moderator=True), TARGET) is None


def test_a_missing_deleted_foreign_or_non_message_target_is_not_found() -> None:
    deleted = TARGET.model_copy(update={"deleted": True, "content": ""})
    elsewhere = TARGET.model_copy(update={"room": "other"})
    an_edit = TARGET.model_copy(update={"kind": EventKind.EDIT, "target_id": "m-0"})
    for target in (None, deleted, elsewhere, an_edit):
        assert code(change_refusal(edit(), target)) is ErrorCode.NOT_FOUND


def test_an_edit_s_content_follows_the_rules_of_a_new_message() -> None:
    assert change_content(edit(content=" new\x07 ")) == "new"
    assert code(change_content(edit(content="   "))) is ErrorCode.INVALID_CONTENT
    assert code(change_content(edit(content="x" * 5001))) is ErrorCode.CONTENT_TOO_LONG


def test_a_deletion_carries_no_content_and_a_target_is_required() -> None:
    assert change_content(delete()) == ""
    untargeted = edit().model_copy(update={"target_id": None})
    assert code(change_content(untargeted)) is ErrorCode.INVALID_FRAME


def test_a_bad_room_is_refused_before_the_target_is_looked_for() -> None:
    assert code(change_content(edit().model_copy(update={"room": "a.b"}))) is (
        ErrorCode.INVALID_ROOM
    )


def test_the_event_names_its_target_and_its_seq() -> None:
    event = change_event(edit(), TARGET, "ev-1", "new", 99)
    assert (event.id, event.kind, event.target_id, event.target_seq) == (
        "ev-1",
        EventKind.EDIT,
        "m-1",
        4,
    )
    assert (event.content, event.timestamp, event.client_msg_id) == ("new", 99, "e-1")
    assert change_event(delete(), TARGET, "ev-2", "ignored", 99).content == ""


def react(
    emoji: str = "👍", user: str = "bob", kind: EventKind = EventKind.REACT
) -> ChatSendRequest:
    return ChatSendRequest(
        room="r", user_id=user, content=emoji, client_msg_id="x-1", kind=kind, target_id="m-1"
    )


def test_anyone_may_react_and_the_event_carries_the_emoji() -> None:
    assert change_content(react()) == "👍"
    assert change_refusal(react(), TARGET) is None
    assert change_refusal(react(kind=EventKind.UNREACT), TARGET) is None
    event = change_event(react(), TARGET, "ev-1", "👍", 7)
    assert (event.kind, event.content, event.target_seq) == (EventKind.REACT, "👍", 4)


def test_a_bad_emoji_is_invalid_content_before_any_look_up() -> None:
    assert code(change_content(react("a b"))) is ErrorCode.INVALID_CONTENT
    assert code(change_content(react("", kind=EventKind.UNREACT))) is ErrorCode.INVALID_CONTENT


def test_a_deleted_message_takes_no_reaction() -> None:
    deleted = TARGET.model_copy(update={"deleted": True, "content": ""})
    assert code(change_refusal(react(), deleted)) is ErrorCode.NOT_FOUND


def test_a_twenty_first_emoji_is_refused_but_a_held_one_is_not() -> None:
    full = TARGET.model_copy(
        update={"reactions": [Reaction(emoji=f":e{i}:", count=1, users=["al"]) for i in range(20)]}
    )
    refusal = change_refusal(react("🆕"), full)
    assert code(refusal) is ErrorCode.INVALID_CONTENT
    assert change_refusal(react(":e3:"), full) is None
    assert change_refusal(react("🆕", kind=EventKind.UNREACT), full) is None
