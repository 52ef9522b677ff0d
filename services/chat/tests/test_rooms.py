from switchboard_chat.rooms import decide_access, new_room
from switchboard_contracts import BusError, ErrorCode
from switchboard_contracts.rooms import Room, RoomCreateRequest


def test_a_new_room_trims_its_name_and_counts_its_creator_a_member() -> None:
    room = new_room(
        RoomCreateRequest(id="ops", name="  Ops  ", private=True, members=["bob"], created_by="al"),
        now_ms=7,
    )
    assert room == Room(
        id="ops", name="Ops", private=True, members=["al", "bob"], created_by="al", created_at=7
    )


def test_a_room_without_an_id_gets_one() -> None:
    room = new_room(RoomCreateRequest(name="x", created_by="al"), now_ms=1)
    assert isinstance(room, Room)
    assert room.id.startswith("room-")
    assert not room.private


def test_a_blank_name_is_refused_naming_it() -> None:
    error = new_room(RoomCreateRequest(name="   ", created_by="al"), now_ms=1)
    assert isinstance(error, BusError)
    assert error.code == ErrorCode.INVALID_INPUT
    assert "name" in error.message


def test_rooms_never_created_and_public_rooms_are_open_to_everyone() -> None:
    assert decide_access("any", None, "bob").allowed
    public = Room(id="p", name="p", members=["al"])
    assert decide_access("p", public, "bob").allowed


def test_a_private_room_admits_members_only_and_says_why_not() -> None:
    private = Room(id="s", name="s", private=True, members=["al"])
    assert decide_access("s", private, "al").allowed
    refused = decide_access("s", private, "bob")
    assert not refused.allowed
    assert refused.reason is not None
    assert "private" in refused.reason
    assert "bob" in refused.reason
