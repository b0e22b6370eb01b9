"""The request gate: how many requests a task keeps in flight, from what the API says of its budget."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from analytics_provider.dlt_runtime import parallel_requests
from analytics_provider.hooks.analytics_api import AnalyticsApiHook
from analytics_provider.transport.throttle import ConcurrencyGate, retry_after_seconds


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _gate(clock: Clock) -> ConcurrencyGate:
    return ConcurrencyGate(floor=2, ceiling=4, spare=0.5, calm=1.0, clock=clock)


def _answer(gate: ConcurrencyGate, status: int | None, remaining: int | None = None, limit: int = 50) -> None:
    gate.acquire()
    headers = {} if remaining is None else {"RateLimit-Remaining": str(remaining), "RateLimit-Limit": str(limit)}
    gate.release(status, headers)


def _widen_fully(gate: ConcurrencyGate, clock: Clock) -> None:
    """Three seconds of a budget left half unused: floor 2 -> ceiling 4."""
    for _ in range(3):
        clock.now += 1.1
        _answer(gate, 200, remaining=40)


def test_it_widens_one_step_per_second_of_plainly_unused_budget_up_to_the_ceiling() -> None:
    clock = Clock()
    gate = _gate(clock)
    _answer(gate, 200, remaining=40)
    assert gate.limit == 2, "one answer is not a trend"
    clock.now += 0.5
    _answer(gate, 200, remaining=40)
    assert gate.limit == 2
    clock.now += 0.6
    _answer(gate, 200, remaining=30)
    assert gate.limit == 3
    for _ in range(4):
        clock.now += 1.1
        _answer(gate, 200, remaining=45)
    assert gate.limit == 4, "never past the ceiling"


def test_a_budget_in_use_resets_the_wait_and_an_exhausted_one_narrows_once_a_second() -> None:
    clock = Clock()
    gate = _gate(clock)
    _answer(gate, 200, remaining=40)
    clock.now += 0.9
    _answer(gate, 200, remaining=10)  # below half the limit: the budget is being used
    clock.now += 0.9
    _answer(gate, 200, remaining=40)
    assert gate.limit == 2, "the unused span starts again"
    _widen_fully(gate, clock)
    assert gate.limit == 4
    _answer(gate, 200, remaining=0)
    _answer(gate, 200, remaining=0)
    assert gate.limit == 3, "one step down a second"
    clock.now += 1.0
    _answer(gate, 200, remaining=0)
    assert gate.limit == 2
    clock.now += 1.0
    _answer(gate, 200, remaining=0)
    assert gate.limit == 2, "never below the floor"


def test_a_429_drops_it_to_the_floor_at_once() -> None:
    clock = Clock()
    gate = _gate(clock)
    _widen_fully(gate, clock)
    assert gate.limit == 4
    _answer(gate, 429, remaining=0)
    assert gate.limit == 2


def test_without_the_apis_counts_it_widens_while_nothing_is_refused_and_drops_on_a_429() -> None:
    clock = Clock()
    gate = _gate(clock)
    _answer(gate, 200)
    clock.now += 0.5
    _answer(gate, 404)  # an answer, not a refusal: the span goes on
    assert gate.limit == 2, "half a second is not a calm span"
    clock.now += 0.6
    _answer(gate, 200)
    assert gate.limit == 3
    clock.now += 1.1
    _answer(gate, 200)
    clock.now += 1.1
    _answer(gate, 200)
    assert gate.limit == 4, "never past the ceiling"
    _answer(gate, 429)
    assert gate.limit == 2, "a 429 drops it to the floor at once"
    for failure in (None, 503):  # no answer at all (a reset connection), or the API failing
        clock.now += 0.9
        _answer(gate, 200)
        clock.now += 0.9
        _answer(gate, failure)
        clock.now += 0.9
        _answer(gate, 200)
        assert gate.limit == 2, f"{failure} restarts the calm span"


def test_once_the_api_has_sent_its_counts_answers_without_them_move_nothing() -> None:
    clock = Clock()
    gate = _gate(clock)
    _answer(gate, 200, remaining=10)  # the budget is in use
    for _ in range(5):
        clock.now += 2
        _answer(gate, 200)
    assert gate.limit == 2
    gate.acquire()
    gate.release(200, {"RateLimit-Remaining": "50"})  # a count without the limit it is a share of
    clock.now += 2
    gate.acquire()
    gate.release(200, {"RateLimit-Remaining": "50"})
    assert gate.limit == 2


def _acquire_in_a_thread(gate: ConcurrencyGate) -> tuple[threading.Event, threading.Thread]:
    """A request entering the gate from another thread: the event is set once it is in."""
    entered = threading.Event()

    def enter() -> None:
        gate.acquire()
        entered.set()

    waiter = threading.Thread(target=enter)
    waiter.start()
    return entered, waiter


def test_requests_past_the_limit_wait_for_one_to_finish() -> None:
    gate = _gate(Clock())
    gate.acquire()
    gate.acquire()
    entered, waiter = _acquire_in_a_thread(gate)
    assert not entered.wait(0.2), "a third request went in past a limit of 2"
    gate.release(200, {})
    assert entered.wait(2)
    waiter.join()
    assert gate.in_flight == 2 and gate.peak == 2


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="floor <= ceiling"):
        ConcurrencyGate(floor=3, ceiling=2)


def test_the_ceiling_follows_the_extract_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXTRACT__WORKERS", "6")
    assert parallel_requests() == (2, 6)
    monkeypatch.setenv("EXTRACT__WORKERS", "1")
    assert parallel_requests() == (1, 1)
    monkeypatch.delenv("EXTRACT__WORKERS")
    assert parallel_requests() == (2, 8)


def _hammer(session: Any, url: str, threads: int, requests: int) -> list[int]:
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda _: session.get(url).status_code, range(requests)))


def _gated_session(emulator: Any, api_connection: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any, str]:
    """The hook's session with a ceiling of 4 against the emulator at 20 ms: session, its gate, a URL."""
    monkeypatch.setenv("EXTRACT__WORKERS", "4")
    emulator.set_latency(20)
    session = AnalyticsApiHook(api_connection).get_conn()
    return session, session.get_adapter(emulator.base_url).gate, f"{emulator.base_url}/v2/me"


@pytest.mark.integration
def test_against_the_emulator_a_session_opens_up_only_while_the_limit_is_plainly_unused(
    emulator: Any, api_connection: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    session, gate, url = _gated_session(emulator, api_connection, monkeypatch)

    emulator.set_rate_limit(1000)  # 8 threads, budget to spare: the emulator's remaining count stays high
    assert set(_hammer(session, url, threads=8, requests=300)) == {200}
    assert gate.limit == gate.peak == 4, f"with budget to spare it ran {gate.peak} at once, not the ceiling 4"

    emulator.set_rate_limit(20)  # 20 a second for 8 threads: the budget runs out, then 429s
    statuses = _hammer(session, url, threads=8, requests=60)
    assert set(statuses) == {200}, "every request got through within the retry budget"
    assert emulator.stats()["by_status"].get("429", 0) > 0, "the limit was not reached: nothing was tested"
    assert gate.limit == 2, "an exhausted budget brings it back to the floor"
    assert gate.in_flight == 0


@pytest.mark.integration
def test_against_an_emulator_without_counts_it_opens_up_until_a_429(
    emulator: Any, api_connection: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    session, gate, url = _gated_session(emulator, api_connection, monkeypatch)
    emulator.set_rate_limit(0, counts=False)  # nothing limits it, and nothing says so
    assert set(_hammer(session, url, threads=8, requests=300)) == {200}
    assert gate.limit == gate.peak == 4, f"with nothing refused it ran {gate.peak} at once, not the ceiling 4"

    emulator.set_rate_limit(20, counts=False)  # 20 a second for 8 threads: 429s, and no counts before them
    statuses = _hammer(session, url, threads=8, requests=60)
    assert set(statuses) == {200}, "every request got through within the retry budget"
    refused = emulator.stats()["by_status"].get("429", 0)
    assert refused > 0, "the limit was not reached: nothing was tested"
    assert refused < len(statuses), f"{refused} refusals for {len(statuses)} requests: a 429 storm"
    assert gate.in_flight == 0


def _advance(gate: ConcurrencyGate, clock: Clock, seconds: float) -> None:
    """Move the fake clock on and wake the gate's waiters, as a timed-out wait would."""
    clock.now += seconds
    with gate._cond:
        gate._cond.notify_all()


_LIMIT_SPENT = {"RateLimit-Remaining": "0", "RateLimit-Limit": "50"}


@pytest.mark.parametrize(
    ("retry_after", "held"),
    [
        pytest.param("2", 2.0, id="seconds"),
        pytest.param(None, 1.0, id="none-given"),
        pytest.param("600", 60.0, id="capped-at-max-wait"),
        pytest.param("Wed, 21 Oct 2015 07:28:00 GMT", 1.0, id="a-date-already-past"),
    ],
)
def test_a_refused_request_keeps_its_place_while_it_waits_out_retry_after(retry_after: str | None, held: float) -> None:
    clock = Clock()
    gate = ConcurrencyGate(floor=2, ceiling=4, clock=clock, max_wait=60.0)
    gate.acquire()
    gate.release(429, {**_LIMIT_SPENT, **({"Retry-After": retry_after} if retry_after else {})})
    gate.acquire()  # the other place
    entered, waiter = _acquire_in_a_thread(gate)
    _advance(gate, clock, held - 0.01)
    assert not entered.wait(0.2), "a request took the place of one waiting out its Retry-After"
    _advance(gate, clock, 0.01)  # the wait is over: its place is free again
    assert entered.wait(2)
    waiter.join()
    assert gate.in_flight == 2


def test_retry_after_is_read_as_seconds_or_as_an_http_date() -> None:
    now = 1_445_412_480.0  # Wed, 21 Oct 2015 07:28:00 GMT
    assert retry_after_seconds(" 3 ") == 3.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:05 GMT", wall_clock=lambda: now) == 5.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:27:00 GMT", wall_clock=lambda: now) is None, "past"
    assert retry_after_seconds("0") is None
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None
