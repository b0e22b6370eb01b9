"""Short, readable wording of durations, request counts and mapped-task labels for logs and the UI."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

LABEL_MAX = 40
"""Characters of a mapped task's label: longer ones wrap the UI's breadcrumb."""


def duration(value: timedelta) -> str:
    """`1 day`, `7 days`, `36 h`, `90 min`, `45 s`: the largest unit that divides `value`."""
    seconds = int(value.total_seconds())
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if seconds and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if unit == 'day' and count != 1 else ''}"
    return f"{value.total_seconds():g} s"


def requests_text(by_status: Mapping[int, int], fetched: int = 0) -> str:
    """`6 requests (HTTP 200: 6)`: statuses that add up to the total, requests for a fetched parent
    (counted without statuses) named on their own."""
    total = sum(by_status.values()) + fetched
    parts = [f"HTTP {status}: {count}" for status, count in sorted(by_status.items())]
    if fetched:
        parts.append(f"{fetched} for the parent's rows")
    return f"{total} requests" + (f" ({', '.join(parts)})" if parts else "")


def batch_label(keys: list[dict[str, Any]]) -> str:
    """`200 keys from 5f3c…`: the batch size and the start of its first key, at most LABEL_MAX long."""
    label = f"{len(keys)} keys"
    if keys:
        first = ", ".join(str(v) for v in keys[0].values())
        room = LABEL_MAX - len(label) - len(" from ")
        label += " from " + (first if len(first) <= room else first[: room - 1] + "…")
    return label
