"""A window that starts before the API still serves its rows (insights keep 90 days) says so."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from analytics_provider.spec.model import ResourceSpec
from analytics_provider.window import LoadWindow


def past_retention(resource: ResourceSpec, window: LoadWindow, log: Any, now: datetime | None = None) -> str | None:
    """The earliest instant the API still serves when `window` starts before it (logged as a
    warning), else None."""
    inc = resource.incremental
    if inc is None or inc.retention is None or window.start is None:
        return None
    now = now or datetime.now(timezone.utc)
    start = window.start if window.start.tzinfo else window.start.replace(tzinfo=timezone.utc)
    earliest = now - inc.retention
    if start >= earliest:
        return None
    log.warning(
        "Resource `%s`: the window starts at %s, but the API keeps only %s days (since %s): rows older "
        "than that are not served and cannot be loaded",
        resource.name,
        start.isoformat(),
        f"{inc.retention.total_seconds() / 86400:g}",
        earliest.isoformat(),
    )
    return earliest.isoformat()
