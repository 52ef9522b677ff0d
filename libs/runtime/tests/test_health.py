from switchboard_runtime import Health


def test_ready_when_every_check_passes() -> None:
    health = Health()
    health.add_check("nats", lambda: True)
    assert health.ready
    assert health.failing() == []


def test_not_ready_names_the_failing_check() -> None:
    health = Health()
    health.add_check("nats", lambda: True)
    health.add_check("postgres", lambda: False)
    assert not health.ready
    assert health.failing() == ["postgres"]


def test_not_ready_while_draining() -> None:
    health = Health()
    health.draining = True
    assert health.failing() == ["draining"]
