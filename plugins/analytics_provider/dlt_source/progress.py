"""Progress of a long extraction in the task log: at most one INFO line every `interval` seconds.

Each answered request is noted (one clock read and a few additions under the stats lock); a line
is written only when `interval` seconds have passed since the last one, so a load of a million
pipelines reports every 30 s instead of staying silent for minutes, and a short load says nothing
extra. `ANALYTICS_PROGRESS_SECONDS` sets the interval (0: a line per request, for debugging)."""

from __future__ import annotations

import logging
import os
import time
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 30.0


def progress_interval() -> float:
    raw = os.environ.get("ANALYTICS_PROGRESS_SECONDS", "").strip()
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_INTERVAL
    except ValueError:
        raise ValueError(f"ANALYTICS_PROGRESS_SECONDS must be a number of seconds, got `{raw}`") from None


def page_rows(parsed: Any) -> int:
    """Rows in one answered page: its `items`, a bare list's elements, or one object."""
    if isinstance(parsed, dict):
        items = parsed.get("items")
        return len(items) if isinstance(items, list) else 1
    return len(parsed) if isinstance(parsed, list) else 0


class Progress:
    """Counts pages, rows and requests of one resource's extraction; not thread-safe on its own
    (RequestStats calls it under its lock)."""

    def __init__(self, resource: str, parent_keys: int | None = None, interval: float | None = None) -> None:
        self.resource = resource
        self.parent_keys = parent_keys
        self.interval = progress_interval() if interval is None else interval
        self.started = time.monotonic()
        self.last = self.started
        self.requests = self.pages = self.rows = 0

    def note(self, status: int, rows: int = 0) -> None:
        self.requests += 1
        if status == 200:
            self.pages += 1
            self.rows += rows
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            log.info("%s", self.line(now))

    def line(self, now: float) -> str:
        elapsed = max(now - self.started, 1e-9)
        rate = self.requests / elapsed
        text = (
            f"`{self.resource}` in progress: {self.pages} pages, {self.rows} rows, {self.requests} requests "
            f"in {elapsed:.0f}s ({rate:.1f} requests/s)"
        )
        if self.parent_keys and self.requests < self.parent_keys and rate > 0:
            left = (self.parent_keys - self.requests) / rate
            text += f", {self.parent_keys} parent keys: at least {left:.0f}s left"
        return text
