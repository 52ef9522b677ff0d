import pytest
from switchboard_gateway.chat.seq_search import Position, SeqSearch


def run(search: SeqSearch, stream: dict[int, int]) -> int:
    """Drive a search over a stream given as {stream_seq: room_seq}; returns the probe count."""
    probes = 0
    while (probe := search.next_probe()) is not None:
        probes += 1
        after = sorted(s for s in stream if s >= probe)
        search.observe(probe, Position(stream[after[0]], after[0]) if after else None)
    return probes


def interleaved(count: int, every: int) -> dict[int, int]:
    """A room's ``count`` messages, one every ``every`` stream messages."""
    return {n * every + 3: n + 1 for n in range(count)}


@pytest.mark.parametrize("target", [1, 2, 500, 999, 1000])
def test_any_seq_is_found_in_few_probes(target: int) -> None:
    stream = interleaved(1000, every=7)
    positions = {room: s for s, room in stream.items()}
    search = SeqSearch(target, Position(1, positions[1]), Position(1000, positions[1000]))
    probes = run(search, stream)
    assert search.found == Position(target, positions[target])
    assert probes <= 14


def test_a_seq_missing_from_the_stream_exhausts_the_search() -> None:
    stream = {s: room for s, room in interleaved(10, every=3).items() if room != 5}
    positions = {room: s for s, room in stream.items()}
    search = SeqSearch(5, Position(1, positions[1]), Position(10, positions[10]))
    run(search, stream)
    assert search.found is None
    assert search.exhausted


def test_a_target_outside_the_known_positions_is_refused() -> None:
    with pytest.raises(ValueError, match="not between"):
        SeqSearch(20, Position(1, 1), Position(10, 50))
