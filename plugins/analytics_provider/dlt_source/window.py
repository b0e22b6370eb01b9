"""The window a run loads, as the source and the summary read it, and durations in words.

Plain data: imports neither dlt nor Airflow (the run's window is decided in ../window.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class LoadWindow:
    """`end` set: load exactly [start, end) and leave the stored cursor alone (backfills, explicit
    windows). `end` None: continue from the stored cursor, or from `start` on the first run."""

    start: datetime | None
    end: datetime | None
    origin: str

    @property
    def stateless(self) -> bool:
        return self.end is not None

    def describe(self) -> str:
        if self.end is None:
            return f"from the stored cursor (first run: from {self.start:%Y-%m-%dT%H:%M:%SZ}) [{self.origin}]"
        return f"[{self.start:%Y-%m-%dT%H:%M:%SZ}, {self.end:%Y-%m-%dT%H:%M:%SZ}) [{self.origin}]"

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "origin": self.origin,
            "stateless": self.stateless,
        }


def duration(value: timedelta) -> str:
    """`1 day`, `7 days`, `36 h`, `90 min`, `45 s`: the largest unit that divides `value`."""
    seconds = int(value.total_seconds())
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if seconds and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if unit == 'day' and count != 1 else ''}"
    return f"{value.total_seconds():g} s"
