"""``PingSchedule``: callbacks run once, never before they are due and about a second late at
most, in order of their seconds; cancelled ones never run; one timer serves them all."""

import asyncio

from switchboard_runtime.patches.ping_schedule import _SCHEDULES, PingSchedule, ping_schedule

WAIT = 10.0


async def test_callbacks_run_once_when_due_in_order_and_never_early() -> None:
    loop = asyncio.get_running_loop()
    schedule = PingSchedule(loop)
    ran: list[tuple[str, float]] = []
    done = asyncio.Event()
    start = loop.time()

    def note(name: str) -> None:
        ran.append((name, loop.time() - start))
        if len(ran) == 2:
            done.set()

    schedule.call_later(1.2, lambda: note("later"))
    schedule.call_later(0.1, lambda: note("sooner"))
    await asyncio.wait_for(done.wait(), WAIT)
    assert [name for name, _ in ran] == ["sooner", "later"]
    assert ran[0][1] >= 0.1
    assert ran[1][1] >= 1.2
    assert ran[1][1] < 1.2 + 1.0 + 0.5  # rounded up to a whole second, plus a busy machine
    assert len(schedule) == 0


async def test_a_cancelled_callback_never_runs_and_the_others_still_do() -> None:
    schedule = PingSchedule(asyncio.get_running_loop())
    ran: list[str] = []
    done = asyncio.Event()
    cancelled = schedule.call_later(0.05, lambda: ran.append("cancelled"))

    def kept() -> None:
        ran.append("kept")
        done.set()

    schedule.call_later(0.05, kept)
    cancelled.cancel()
    await asyncio.wait_for(done.wait(), WAIT)
    assert ran == ["kept"]


async def test_one_failing_callback_does_not_stop_the_rest() -> None:
    loop = asyncio.get_running_loop()
    errors: list[dict[str, object]] = []
    loop.set_exception_handler(lambda _, context: errors.append(context))
    try:
        schedule = PingSchedule(loop)
        done = asyncio.Event()

        def broken() -> None:
            raise RuntimeError("boom")

        schedule.call_later(0.05, broken)
        schedule.call_later(0.05, done.set)
        await asyncio.wait_for(done.wait(), WAIT)
    finally:
        loop.set_exception_handler(None)
    assert [str(context["exception"]) for context in errors] == ["boom"]


async def test_a_loop_has_one_schedule() -> None:
    loop = asyncio.get_running_loop()
    assert ping_schedule(loop) is ping_schedule(loop)


def test_the_schedules_of_closed_loops_are_not_kept() -> None:
    closed = asyncio.new_event_loop()
    ping_schedule(closed).call_later(1.0, lambda: None)
    closed.close()
    assert closed in _SCHEDULES
    current = asyncio.new_event_loop()
    try:
        ping_schedule(current)
        assert closed not in _SCHEDULES
        assert current in _SCHEDULES
    finally:
        current.close()
