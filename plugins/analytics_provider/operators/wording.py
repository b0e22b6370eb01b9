"""Short, readable wording of request counts and mapped-task labels for the task log and the UI."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

LABEL_MAX = 40
"""Characters of a mapped task's label: longer ones wrap the UI's breadcrumb."""


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
