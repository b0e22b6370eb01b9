"""Request accounting: a token-bucket rate limiter and per-route statistics."""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from typing import Any


class RateLimiter:
    """Token bucket of ``rate`` requests a second, holding at most one second of tokens.

    :param rate: requests per second; 0 or less switches limiting off.
    :param counts: answers carry the bucket's counts (``RateLimit-*`` and ``X-RateLimit-*``); the
        real API "may" send them, so without them a 429's ``Retry-After`` is all a client learns.
    """

    def __init__(self, rate: float, counts: bool = True) -> None:
        self._lock = threading.Lock()
        self.configure(rate, counts)

    def configure(self, rate: float, counts: bool = True) -> None:
        with self._lock:
            self.counts = counts
            self.rate = max(0.0, float(rate))
            self.capacity = max(1.0, self.rate)
            self._tokens = self.capacity
            self._stamp = time.monotonic()

    def acquire(self) -> tuple[bool, dict[str, str]]:
        """Take one token. Returns (allowed, headers); when refused, headers hold an honest
        ``Retry-After``: after that many seconds a token is available."""
        with self._lock:
            if self.rate <= 0:
                return True, {}
            now = time.monotonic()
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            allowed = self._tokens >= 1.0
            if allowed:
                self._tokens -= 1.0
            headers = self._headers() if self.counts else {}
            if not allowed:
                headers["Retry-After"] = str(max(1, math.ceil((1.0 - self._tokens) / self.rate)))
            return allowed, headers

    def _headers(self) -> dict[str, str]:
        limit = str(int(self.capacity))
        remaining = str(int(self._tokens))
        reset = str(math.ceil((self.capacity - self._tokens) / self.rate))
        return {
            "RateLimit-Limit": limit,
            "RateLimit-Remaining": remaining,
            "RateLimit-Reset": reset,
            "X-RateLimit-Limit": limit,
            "X-RateLimit-Remaining": remaining,
            "X-RateLimit-Reset": reset,
        }


TIMELINE_SECONDS = 3600
"""How much of the time since the last reset the per-second timeline covers (a long-running
emulator would otherwise grow it by one entry a second)."""


class Stats:
    """Counts of API requests by route template (``"GET /v2/pipeline"``) and by status, and per second
    for the first hour since the last reset (``timeline``: ``[served, refused with 429]`` per
    second), which shows where a client left the rate limit's budget unused."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._routes: Counter[str] = Counter()
            self._status: Counter[str] = Counter()
            self._faults: Counter[str] = Counter()
            self._total = 0
            self._since = time.monotonic()
            self._seconds: list[list[int]] = []

    def record(self, route: str, status: int, faults: list[str] | None = None) -> None:
        """Count one request; ``status`` 0 means the connection was reset (counted as ``reset``)."""
        with self._lock:
            self._routes[route] += 1
            self._status[str(status) if status else "reset"] += 1
            self._total += 1
            self._faults.update(faults or ())
            second = int(time.monotonic() - self._since)
            if second < TIMELINE_SECONDS:
                while len(self._seconds) <= second:
                    self._seconds.append([0, 0])
                self._seconds[second][1 if status == 429 else 0] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": self._total,
                "routes": dict(sorted(self._routes.items())),
                "by_status": dict(sorted(self._status.items())),
                "faults": dict(sorted(self._faults.items())),
                "timeline": [list(pair) for pair in self._seconds],
            }
