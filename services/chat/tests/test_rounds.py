from switchboard_chat.sequencer import rounds
from switchboard_contracts import ChatMessage


def draft(room: str, message_id: str) -> ChatMessage:
    return ChatMessage(id=message_id, room=room, seq=0, sender_id="al", content="x", timestamp=1)


def test_rounds_take_each_rooms_next_message_and_keep_a_rooms_order() -> None:
    drafts = [draft(room, str(i)) for i, room in enumerate(["a", "b", "a", "c", "a", "b"])]
    assert rounds(drafts) == [[0, 1, 3], [2, 5], [4]]


def test_no_drafts_make_no_rounds() -> None:
    assert rounds([]) == []
