import secrets

import asyncpg
import pytest
from switchboard_contracts.rooms import Room
from switchboard_persistence.room_store import RoomExistsError, RoomStore

pytestmark = pytest.mark.component


@pytest.fixture
def rooms(pool: asyncpg.Pool) -> RoomStore:
    return RoomStore(pool)


def room(private: bool = False, members: list[str] | None = None) -> Room:
    return Room(
        id=f"r-{secrets.token_hex(4)}",
        name="Room",
        private=private,
        members=members or ["al"],
        created_by="al",
        created_at=1,
    )


async def test_a_created_room_reads_back_with_its_members_sorted(rooms: RoomStore) -> None:
    created = await rooms.create(room(private=True, members=["zed", "al", "al"]))
    assert created.members == ["al", "zed"]
    assert await rooms.get(created.id) == created


async def test_a_room_id_is_created_once(rooms: RoomStore) -> None:
    first = await rooms.create(room())
    with pytest.raises(RoomExistsError, match=first.id):
        await rooms.create(first.model_copy(update={"name": "Other"}))
    assert await rooms.get(first.id) == first


async def test_an_unknown_room_is_none(rooms: RoomStore) -> None:
    assert await rooms.get("never-created") is None


async def test_users_see_public_rooms_and_their_private_ones(rooms: RoomStore) -> None:
    public = await rooms.create(room())
    mine = await rooms.create(room(private=True, members=["bob"]))
    theirs = await rooms.create(room(private=True, members=["carol"]))
    visible = {r.id for r in await rooms.visible_to("bob")}
    assert public.id in visible
    assert mine.id in visible
    assert theirs.id not in visible
