"""How many requests a task keeps in flight: more only while the rate limit is plainly unused.

The API throttles per key, and the tasks of a DAG share that key without knowing of each other.
Two requests in flight per task keep the limit busy while two or more tasks fetch, with few 429s;
more per task drew 429 storms in which requests ran out of retries and tasks failed
(bench/fanout.py). But when one task is left (the last batch of a fan-out), two requests use
~37 of the 50 requests a second allowed, for as long as that batch takes.

So the gate starts at `floor` and widens by one only when the API's own count says the budget
has been going unused for `calm` seconds: `RateLimit-Remaining` (or `X-RateLimit-Remaining`)
at least `spare` of `RateLimit-Limit` on every answer over that span. It narrows by one (at most
once per `calm`) when the remaining count reaches 0, and drops to `floor` on a 429.

An API that sends no counts (the real one "may" send them) says only when the budget is spent: a
429. There the gate widens by one per `calm` seconds in which every answer came and none was a
429 or a 5xx, and drops to `floor` on a 429 (additive increase, multiplicative decrease). With
`floor` in flight, such an API left most of a task's time waiting on latency when nothing limited
it (bench/first_load_airflow.py). Once an answer has carried counts, answers without them move
nothing: the counts are the better witness.

A request refused with a 429 keeps its place in the gate while it waits out its `Retry-After`:
otherwise another thread would take the place at once, and a task would keep more requests going
than its limit (the waiting ones come back, all of them). Gates that let it go failed tasks. The
place is held as long as the retry sleeps: `Retry-After` in seconds or as an HTTP date, capped at
`max_wait` (the spec's `max_retry_delay`), 1 s when the answer gives none.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from email.utils import mktime_tz, parsedate_tz

REMAINING = ("RateLimit-Remaining", "X-RateLimit-Remaining")
LIMIT = ("RateLimit-Limit", "X-RateLimit-Limit")


class ConcurrencyGate:
    """At most `limit` requests of one process in flight, `floor <= limit <= ceiling`.

    :param floor: requests in flight at the start and after a 429.
    :param ceiling: the most ever in flight (the extract's thread count; more threads would wait).
    :param spare: share of the rate limit that must stay unused (remaining / limit) to widen.
    :param calm: seconds the budget must stay that unused before each step up; also the least
        time between two steps down on an exhausted budget.
    :param max_wait: the longest a refused request waits out its `Retry-After` (the retry's cap).
    """

    def __init__(
        self,
        floor: int,
        ceiling: int,
        spare: float = 0.5,
        calm: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        max_wait: float = 60.0,
    ) -> None:
        if not 1 <= floor <= ceiling:
            raise ValueError(f"need 1 <= floor <= ceiling, got floor={floor}, ceiling={ceiling}")
        self.floor, self.ceiling, self.spare, self.calm = floor, ceiling, spare, calm
        self.max_wait = max_wait
        self._clock = clock
        self._cond = threading.Condition()
        self.limit = floor
        self.in_flight = 0
        self.peak = 0
        """The most requests that were in flight at once."""
        self._unused_since: float | None = None
        """Since when the answers have been calm (budget plainly unused, or no 429 without counts)."""
        self._counted = False
        """Whether an answer carried the API's counts: from then on only counts widen the gate."""
        self._narrowed_at = float("-inf")
        self._waiting_out: list[float] = []
        """When each refused request's `Retry-After` ends: until then it holds its place."""

    def acquire(self) -> None:
        with self._cond:
            while True:
                now = self._clock()
                self._waiting_out = [until for until in self._waiting_out if until > now]
                if self.in_flight + len(self._waiting_out) < self.limit:
                    break
                self._cond.wait(timeout=min(self._waiting_out) - now if self._waiting_out else None)
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)

    def release(self, status: int | None, headers: Mapping[str, str] | None) -> None:
        """One request is done: the `status` and `headers` of its answer (None: none) move the limit."""
        with self._cond:
            self.in_flight -= 1
            self._observe(status, headers or {})
            self._cond.notify_all()

    def _observe(self, status: int | None, headers: Mapping[str, str]) -> None:
        now = self._clock()
        if status == 429:
            self.limit, self._unused_since = self.floor, None
            wait = retry_after_seconds(headers.get("Retry-After"))
            self._waiting_out.append(now + min(self.max_wait, wait if wait is not None else 1.0))
            return
        remaining, limit = _count(headers, REMAINING), _count(headers, LIMIT)
        if remaining is None or not limit:
            if self._counted or status is None or status >= 500:
                self._unused_since = None
            else:
                self._widen_when_calm(now)
            return
        self._counted = True
        if remaining <= 0:
            self._unused_since = None
            if self.limit > self.floor and now - self._narrowed_at >= self.calm:
                self.limit, self._narrowed_at = self.limit - 1, now
        elif remaining < self.spare * limit:
            self._unused_since = None
        else:
            self._widen_when_calm(now)

    def _widen_when_calm(self, now: float) -> None:
        """One more answer of a calm span: one step up once the span has lasted `calm` seconds."""
        if self._unused_since is None:
            self._unused_since = now
        elif now - self._unused_since >= self.calm and self.limit < self.ceiling:
            self.limit, self._unused_since = self.limit + 1, now


def _count(headers: Mapping[str, str], names: tuple[str, ...]) -> int | None:
    for name in names:
        value = headers.get(name)
        if value is not None:
            try:
                return int(float(value))
            except ValueError:
                return None
    return None


def retry_after_seconds(value: str | None, wall_clock: Callable[[], float] = time.time) -> float | None:
    """Seconds a `Retry-After` asks to wait: a count of seconds or an HTTP date (RFC 9110); None
    when absent, unreadable or already past (dlt's retry then falls back to its backoff)."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        seconds = float(text)
    else:
        parsed = parsedate_tz(text)
        if parsed is None:
            return None
        seconds = mktime_tz(parsed) - wall_clock()
    return seconds if seconds > 0 else None
