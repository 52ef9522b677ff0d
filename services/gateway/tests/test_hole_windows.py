"""Which ranges the room log asks persistence for, to fill the stream's holes."""

from switchboard_gateway.chat.room_log import hole_windows


def test_holes_within_one_page_go_together_and_farther_ones_start_a_new_range() -> None:
    assert hole_windows([], 100) == []
    assert hole_windows([7], 100) == [(7, 7)]
    assert hole_windows([1, 2, 5, 100], 100) == [(1, 100)]
    assert hole_windows([1, 2, 5, 101, 150, 300], 100) == [(1, 5), (101, 150), (300, 300)]


def test_every_range_fits_one_page() -> None:
    holes = list(range(1, 1000, 7))
    windows = hole_windows(holes, 100)
    assert all(high - low < 100 for low, high in windows)
    assert [h for h in holes if not any(low <= h <= high for low, high in windows)] == []
