from switchboard_gateway.edge.limits import Admission, UserBuckets, UserCounter, UserFrameRates


def test_a_user_counter_admits_up_to_the_limit_per_user() -> None:
    counter = UserCounter(2)
    assert counter.enter("a")
    assert counter.enter("a")
    assert not counter.enter("a")
    assert counter.enter("b")
    counter.leave("a")
    assert counter.enter("a")
    counter.leave("a")
    counter.leave("a")
    assert counter.count("a") == 0


def test_admission_names_which_limit_refused() -> None:
    admission = Admission(limit=3, per_user=2)
    assert admission.enter("a") is None
    assert admission.enter("a") is None
    assert admission.enter("a") == "too many connections for this user; close one first"
    assert admission.enter("b") is None
    assert admission.enter("c") == "connection limit reached; retry later"
    admission.leave("a")
    assert admission.enter("c") is None


def test_a_users_connections_share_one_bucket() -> None:
    rates = UserFrameRates(rate=1.0, burst=2, strikes=2)
    one = rates.acquire("a")
    two = rates.acquire("a")
    assert one is two
    assert one.allow(0.0)
    assert two.allow(0.0)
    assert not one.allow(0.0)
    assert not two.allow(0.0)
    assert one.exhausted
    assert rates.acquire("b") is not one


def test_the_bucket_is_dropped_with_the_users_last_connection() -> None:
    rates = UserFrameRates(rate=1.0, burst=1, strikes=5)
    first = rates.acquire("a")
    rates.acquire("a")
    rates.release("a")
    assert rates.acquire("a") is first
    rates.release("a")
    rates.release("a")
    assert rates.acquire("a") is not first


def test_user_buckets_limit_each_user_apart() -> None:
    buckets = UserBuckets(rate=1.0, burst=2)
    assert [buckets.allow("al", 0.0) for _ in range(3)] == [True, True, False]
    assert buckets.allow("bo", 0.0)
    assert buckets.allow("al", 1.0)  # a token back after a second
    assert not buckets.allow("al", 1.0)


def test_a_bucket_idle_until_full_again_is_dropped() -> None:
    buckets = UserBuckets(rate=1.0, burst=2)
    buckets.allow("al", 0.0)
    buckets.allow("bo", 1.5)
    assert len(buckets) == 2
    buckets.allow("cy", 2.5)  # al idle 2.5 s >= 2 s: full again, dropped; bo kept
    assert len(buckets) == 2
    assert [buckets.allow("al", 2.5), buckets.allow("al", 2.5)] == [True, True]
