from switchboard_gateway.edge.rate_limit import FrameRateLimit


def test_a_burst_is_allowed_then_frames_are_refused() -> None:
    limit = FrameRateLimit(rate=10, burst=3, strikes=5)
    assert [limit.allow(0.0) for _ in range(4)] == [True, True, True, False]
    assert not limit.exhausted


def test_tokens_come_back_over_time() -> None:
    limit = FrameRateLimit(rate=10, burst=2, strikes=5)
    limit.allow(0.0)
    limit.allow(0.0)
    assert not limit.allow(0.0)
    assert limit.allow(0.1)


def test_repeated_refusals_exhaust_the_connection() -> None:
    limit = FrameRateLimit(rate=1, burst=1, strikes=3)
    for _ in range(4):
        limit.allow(0.0)
    assert limit.exhausted


def test_refusals_older_than_the_window_are_forgiven() -> None:
    limit = FrameRateLimit(rate=0.01, burst=1, strikes=3, window=10.0)
    limit.allow(0.0)
    limit.allow(0.0)
    limit.allow(1.0)
    limit.allow(20.0)
    assert not limit.exhausted
