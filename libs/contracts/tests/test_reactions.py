import pytest
from switchboard_contracts.reactions import (
    MAX_EMOJI_BYTES,
    REACTION_USERS_LISTED,
    Reaction,
    emoji_problem,
    fold_reactions,
)


@pytest.mark.parametrize(
    "emoji", ["👍", "👍🏽", "👨\u200d👩\u200d👧", "❤\ufe0f", ":party_parrot:", "+1"]
)
def test_an_emoji_a_sequence_or_a_short_name_is_a_reaction(emoji: str) -> None:
    assert emoji_problem(emoji) is None


@pytest.mark.parametrize(
    ("emoji", "words"),
    [
        ("", "empty"),
        ("a b", "whitespace"),
        ("👍\n", "whitespace"),
        ("\x07", "U+0007"),
        ("\u202e👍", "U+202E"),
        ("x" * (MAX_EMOJI_BYTES + 1), "at most 32 bytes"),
        ("👍" * 9, "got 36"),
        ("\ud800", "valid Unicode"),
    ],
)
def test_a_bad_emoji_is_refused_naming_the_problem(emoji: str, words: str) -> None:
    problem = emoji_problem(emoji)
    assert problem is not None
    assert words in problem


def test_each_user_s_latest_event_by_seq_wins_whatever_the_order() -> None:
    events = [(5, "👍", "bob", False), (3, "👍", "bob", True), (4, "👍", "al", True)]
    assert fold_reactions(events) == [Reaction(emoji="👍", count=1, users=["al"])]
    assert fold_reactions(reversed(events)) == fold_reactions(events)


def test_a_repeated_add_or_a_remove_of_nothing_changes_nothing() -> None:
    once = [(1, "🎉", "al", True)]
    assert fold_reactions([*once, (2, "🎉", "al", True), (3, "👍", "bob", False)]) == (
        fold_reactions(once)
    )
    assert fold_reactions(once + once) == [Reaction(emoji="🎉", count=1, users=["al"])]


def test_emoji_in_first_reacted_order_users_bounded_and_counts_exact() -> None:
    users = [f"u{i:02}" for i in range(REACTION_USERS_LISTED + 5)]
    events = [(10 + i, "👍", u, True) for i, u in enumerate(users)] + [(2, "🎉", "al", True)]
    folded = fold_reactions(events)
    assert [r.emoji for r in folded] == ["🎉", "👍"]
    assert folded[1].count == len(users)
    assert folded[1].users == users[:REACTION_USERS_LISTED]
