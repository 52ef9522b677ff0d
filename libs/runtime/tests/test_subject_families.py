import pytest
from switchboard_runtime.telemetry.metrics import subject_template


@pytest.mark.parametrize(
    ("subject", "family"),
    [
        ("chat.cmd.send", "chat.cmd.send"),
        ("chat.room.lobby", "chat.room.>"),
        ("chat.room.another-room", "chat.room.>"),
        ("notify.user.alice", "notify.user.>"),
        ("metrics.report.gateway", "metrics.report.>"),
        ("_INBOX.abc.def", "other"),
        ("chat.room", "other"),
    ],
)
def test_a_subject_is_labelled_by_its_family_never_its_id(subject: str, family: str) -> None:
    assert subject_template(subject) == family
