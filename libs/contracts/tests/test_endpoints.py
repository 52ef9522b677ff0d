from typing import Any

import pytest
from switchboard_contracts import BusError, ErrorCode, endpoints, streams, subjects
from switchboard_contracts.chat import ChatSendReply
from switchboard_contracts.endpoints import Endpoint
from switchboard_contracts.rooms import RoomGetRequest

SERVICES = {
    subjects.QUEUE_CHAT: "CHAT_",
    subjects.QUEUE_NOTIFICATION: "NOTIFICATION_",
    subjects.QUEUE_PERSISTENCE: "PERSISTENCE_",
}


def declared() -> dict[str, Endpoint[Any, Any]]:
    return {
        name: getattr(endpoints, name)
        for name in endpoints.__all__
        if isinstance(getattr(endpoints, name), Endpoint)
    }


def test_public_exports_are_pinned() -> None:
    assert sorted(endpoints.__all__) == sorted(
        [
            "ALL",
            "CHAT_PRESENCE",
            "CHAT_ROOM_ACCESS",
            "CHAT_ROOM_CREATE",
            "CHAT_ROOM_LIST",
            "CHAT_SEND",
            "CHAT_SEND_BATCH",
            "DEAD_LETTER_REPLAYS",
            "DEFAULT_TIMEOUT_SECONDS",
            "NOTIFICATION_BROADCAST",
            "NOTIFICATION_DEAD_LETTER_REPLAY_NOTIFY_JOBS",
            "NOTIFICATION_READ",
            "NOTIFICATION_SEND",
            "PERSISTENCE_CHAT_HISTORY",
            "PERSISTENCE_CHAT_LAST_SEQ",
            "PERSISTENCE_CHAT_VERSIONS",
            "PERSISTENCE_DEAD_LETTER_REPLAY_CHAT",
            "PERSISTENCE_DEAD_LETTER_REPLAY_NOTIFY",
            "PERSISTENCE_MESSAGES_GET",
            "PERSISTENCE_MESSAGE_GET",
            "PERSISTENCE_NOTIFY_INBOX",
            "PERSISTENCE_NOTIFY_LAST_CURSOR",
            "PERSISTENCE_NOTIFY_MARK_READ",
            "PERSISTENCE_NOTIFY_MEMBERSHIPS",
            "PERSISTENCE_NOTIFY_REGISTER",
            "PERSISTENCE_NOTIFY_REPLAY",
            "PERSISTENCE_ROOM_CREATE",
            "PERSISTENCE_ROOM_GET",
            "PERSISTENCE_READ_MARK",
            "PERSISTENCE_READ_STATES",
            "PERSISTENCE_ROOM_LIST",
            "PERSISTENCE_USER_ERASE",
            "Endpoint",
        ]
    )
    for name in endpoints.__all__:
        assert hasattr(endpoints, name)


def test_every_endpoint_is_listed_once_in_all() -> None:
    assert sorted(e.subject for e in endpoints.ALL) == sorted(
        e.subject for e in declared().values()
    )
    assert len({e.subject for e in endpoints.ALL}) == len(endpoints.ALL)


def test_an_endpoint_is_named_after_the_service_that_serves_it() -> None:
    for name, endpoint in declared().items():
        assert name.startswith(SERVICES[endpoint.queue]), name


def test_endpoint_subjects_are_the_subjects_module_s_on_the_wire_unchanged() -> None:
    spelled = {getattr(subjects, name) for name in subjects.__all__ if name.isupper()}
    replays = {subjects.dead_letter_replay(name) for name in endpoints.DEAD_LETTER_REPLAYS}
    for endpoint in endpoints.ALL:
        assert endpoint.subject in spelled | replays
    assert endpoints.PERSISTENCE_CHAT_HISTORY.subject == "chat.cmd.history"
    assert endpoints.CHAT_SEND.subject == "chat.cmd.send"


def test_every_stream_that_dead_letters_has_a_replay_endpoint_served_by_its_consumer() -> None:
    assert set(endpoints.DEAD_LETTER_REPLAYS) == {
        streams.CHAT.name,
        streams.NOTIFY.name,
        streams.NOTIFY_JOBS.name,
    }
    assert endpoints.DEAD_LETTER_REPLAYS[streams.NOTIFY_JOBS.name].queue == "notification"
    assert endpoints.DEAD_LETTER_REPLAYS[streams.CHAT.name].queue == "persistence"


@pytest.mark.parametrize("endpoint", endpoints.ALL, ids=lambda e: e.subject)
def test_every_endpoint_can_answer_an_error(endpoint: Endpoint[Any, Any]) -> None:
    error = BusError(code=ErrorCode.UNAVAILABLE, message="retry")
    reply = endpoint.error_reply(error)
    assert isinstance(reply, endpoint.reply_type)
    assert reply.error == error
    assert endpoint.reply_type.decode(reply.encode()).error == error


def test_error_reply_is_the_endpoint_s_reply_type() -> None:
    error = BusError(code=ErrorCode.INTERNAL, message="x")
    reply: ChatSendReply = endpoints.CHAT_SEND.error_reply(error)
    assert reply == ChatSendReply(error=error)


def test_a_reply_type_without_an_error_field_is_refused() -> None:
    with pytest.raises(TypeError, match="no error field"):
        Endpoint("x", RoomGetRequest, RoomGetRequest, "q")
