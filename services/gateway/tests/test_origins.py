from switchboard_gateway.edge.origins import OriginPolicy


def test_origins_match_exactly() -> None:
    policy = OriginPolicy(["https://app.example.com"])
    assert policy.allows("https://app.example.com")
    assert policy.allows("https://app.example.com/")
    assert not policy.allows("https://app.example.com.evil.test")
    assert not policy.allows("http://app.example.com")
    assert policy.allows(None)  # not a browser


def test_an_empty_allow_list_accepts_every_origin() -> None:
    assert OriginPolicy([]).allows("https://anything.test")
