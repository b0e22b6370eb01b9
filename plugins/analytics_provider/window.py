"""Which time window a run loads, decided from the Airflow context and the operator's params, and
whether it starts before the API's retention (insights keep 90 days).

Pure: imports neither dlt nor Airflow, so it can be tested and reasoned about on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pendulum

from analytics_provider.dlt_source.window import LoadWindow

if TYPE_CHECKING:
    from analytics_provider.config.model import ResourceSpec


def _as_utc(value: Any, name: str) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = pendulum.parse(str(value))
        except Exception:
            raise ValueError(f"`{name}` must be an ISO 8601 date or timestamp, got {value!r}") from None
    if isinstance(parsed, pendulum.Date) and not isinstance(parsed, datetime):  # a bare date
        parsed = datetime(parsed.year, parsed.month, parsed.day)
    if not isinstance(parsed, datetime):
        raise ValueError(f"`{name}` must be an ISO 8601 date or timestamp, got {value!r}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    # a plain datetime in UTC: pendulum drops a stdlib tzinfo on arithmetic, which dlt then rejects
    p = parsed.astimezone(timezone.utc)
    return datetime(p.year, p.month, p.day, p.hour, p.minute, p.second, p.microsecond, tzinfo=timezone.utc)


def resolve_window(
    context: Mapping[str, Any],
    *,
    start: Any = None,
    end: Any = None,
    initial_lookback: timedelta = timedelta(days=1),
    now: datetime | None = None,
) -> LoadWindow:
    """Explicit `start`/`end` win; a backfill loads its data interval exactly; a scheduled run
    continues from the stored cursor (its interval start seeds the first run); a run with no
    interval (manual without logical date) continues from the cursor or loads `initial_lookback`."""
    start_dt, end_dt = _as_utc(start, "start"), _as_utc(end, "end")
    if start_dt or end_dt:
        now_dt = now or datetime.now(timezone.utc)
        end_dt = end_dt or now_dt
        start_dt = start_dt or end_dt - initial_lookback
        if start_dt >= end_dt:
            raise ValueError(f"window start {start_dt.isoformat()} is not before its end {end_dt.isoformat()}")
        return LoadWindow(start_dt, end_dt, "params")
    interval_start = _as_utc(context.get("data_interval_start"), "data_interval_start")
    interval_end = _as_utc(context.get("data_interval_end"), "data_interval_end")
    dag_run = context.get("dag_run")
    run_type = str(getattr(dag_run, "run_type", "") or "").lower().split(".")[-1]
    if run_type == "backfill" and interval_start and interval_end and interval_start < interval_end:
        return LoadWindow(interval_start, interval_end, "backfill data interval")
    if interval_start is not None:
        return LoadWindow(interval_start, None, "data interval start, then stored cursor")
    now_dt = now or datetime.now(timezone.utc)
    return LoadWindow(now_dt - initial_lookback, None, "no data interval: stored cursor or initial lookback")


def reference_time(context: Any) -> datetime:
    """'Now' for a run: its data interval end when it has one (so reruns are reproducible), else the clock."""
    end = context.get("data_interval_end") if hasattr(context, "get") else None
    if end is None:
        return datetime.now(timezone.utc)
    return end if end.tzinfo else end.replace(tzinfo=timezone.utc)


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
