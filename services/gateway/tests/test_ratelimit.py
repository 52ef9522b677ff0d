from switchboard_gateway.origins import OriginPolicy
from switchboard_gateway.ratelimit import TokenBucket


def test_a_burst_is_allowed_then_the_steady_rate() -> None:
    bucket = TokenBucket(rate_per_second=2, burst=3)
    assert [bucket.take(now=0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.take(now=0.5)
    assert not bucket.take(now=0.5)


def test_tokens_never_exceed_the_burst() -> None:
    bucket = TokenBucket(rate_per_second=10, burst=2)
    bucket.take(now=0.0)
    assert [bucket.take(now=100.0) for _ in range(3)] == [True, True, False]


def test_origins_match_exactly() -> None:
    policy = OriginPolicy(["https://app.example.com"])
    assert policy.allows("https://app.example.com")
    assert policy.allows("https://app.example.com/")
    assert not policy.allows("https://app.example.com.evil.test")
    assert not policy.allows("http://app.example.com")
    assert policy.allows(None)  # not a browser


def test_an_empty_allow_list_accepts_every_origin() -> None:
    assert OriginPolicy([]).allows("https://anything.test")
