"""Which window a run loads: explicit params, backfill intervals, scheduled and manual runs."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pendulum
import pytest

from analytics_provider.dlt_source.window import LoadWindow
from analytics_provider.window import resolve_window

UTC = timezone.utc
NOW = datetime(2026, 3, 10, 12, 30, tzinfo=UTC)
INTERVAL_START = datetime(2026, 3, 9, tzinfo=UTC)
INTERVAL_END = datetime(2026, 3, 10, tzinfo=UTC)


def _context(run_type: Any, start: Any = INTERVAL_START, end: Any = INTERVAL_END) -> dict[str, Any]:
    """The part of an Airflow task context `resolve_window` reads; a stand-in DagRun with `run_type`."""
    return {"dag_run": SimpleNamespace(run_type=run_type), "data_interval_start": start, "data_interval_end": end}


# --- explicit params ---------------------------------------------------------------------------


def test_explicit_start_and_end_give_a_stateless_window() -> None:
    window = resolve_window(_context("scheduled"), start="2026-02-01T00:00:00Z", end="2026-02-03T06:00:00Z", now=NOW)
    assert window == LoadWindow(datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 2, 3, 6, tzinfo=UTC), "params")
    assert window.stateless
    assert window.to_dict() == {
        "start": "2026-02-01T00:00:00+00:00",
        "end": "2026-02-03T06:00:00+00:00",
        "origin": "params",
        "stateless": True,
    }
    assert window.describe() == "[2026-02-01T00:00:00Z, 2026-02-03T06:00:00Z) [params]"


def test_explicit_params_win_over_a_backfill_interval() -> None:
    window = resolve_window(_context("backfill"), start="2026-02-01", end="2026-02-02", now=NOW)
    assert (window.start, window.end, window.origin) == (
        datetime(2026, 2, 1, tzinfo=UTC),
        datetime(2026, 2, 2, tzinfo=UTC),
        "params",
    )


def test_explicit_start_only_ends_now() -> None:
    window = resolve_window({}, start="2026-03-01T00:00:00Z", now=NOW)
    assert window.start == datetime(2026, 3, 1, tzinfo=UTC)
    assert window.end == NOW
    assert window.stateless


def test_explicit_start_only_without_now_ends_at_the_current_time() -> None:
    before = datetime.now(UTC)
    window = resolve_window({}, start="2026-03-01T00:00:00Z")
    after = datetime.now(UTC)
    assert window.end is not None
    assert before <= window.end <= after


_PENDULUM_TZ_BUG = (
    "bug: window.py:52-59 returns pendulum DateTimes with a stdlib `timezone.utc` tzinfo; pendulum drops "
    "that tzinfo on arithmetic, so `end - initial_lookback` (window.py:77) is naive and the comparison on "
    "window.py:78 raises TypeError"
)


@pytest.mark.parametrize(
    "end",
    [
        datetime(2026, 3, 5, tzinfo=UTC),
        pytest.param("2026-03-05T00:00:00Z"),
    ],
    ids=["datetime", "iso-string"],
)
def test_explicit_end_only_starts_initial_lookback_before_it(end: Any) -> None:
    window = resolve_window({}, end=end, initial_lookback=timedelta(hours=6), now=NOW)
    assert window.start == datetime(2026, 3, 4, 18, tzinfo=UTC)
    assert window.end == datetime(2026, 3, 5, tzinfo=UTC)
    assert window.stateless


@pytest.mark.parametrize(
    ("context", "params"),
    [
        ({}, {"start": "2026-03-01T00:00:00Z", "end": "2026-03-02T00:00:00Z"}),
        (
            {
                "dag_run": SimpleNamespace(run_type="backfill"),
                "data_interval_start": pendulum.datetime(2026, 3, 9),
                "data_interval_end": pendulum.datetime(2026, 3, 10),
            },
            {},
        ),
        (
            {
                "dag_run": SimpleNamespace(run_type="scheduled"),
                "data_interval_start": pendulum.datetime(2026, 3, 9),
                "data_interval_end": pendulum.datetime(2026, 3, 10),
            },
            {},
        ),
    ],
    ids=["string-params", "pendulum-backfill-interval", "pendulum-scheduled-interval"],
)
def test_window_bounds_stay_utc_aware_under_arithmetic(context: dict[str, Any], params: dict[str, Any]) -> None:
    """Callers compute `start - lookback`; the result must still be an aware UTC datetime."""
    window = resolve_window(context, **params, now=NOW)
    assert window.start is not None
    assert (window.start - timedelta(hours=1)).utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("start", "end"),
    [("2026-03-05T00:00:00Z", "2026-03-04T00:00:00Z"), ("2026-03-05T00:00:00Z", "2026-03-05T00:00:00Z")],
    ids=["start-after-end", "start-equals-end"],
)
def test_start_not_before_end_is_rejected_naming_both(start: str, end: str) -> None:
    with pytest.raises(ValueError) as caught:
        resolve_window({}, start=start, end=end, now=NOW)
    message = str(caught.value)
    assert "2026-03-05T00:00:00+00:00" in message
    assert pendulum.parse(end).isoformat() in message  # type: ignore[union-attr]
    assert "start" in message
    assert "end" in message


def test_explicit_start_after_now_is_rejected() -> None:
    with pytest.raises(ValueError, match="not before its end"):
        resolve_window({}, start="2026-04-01T00:00:00Z", now=NOW)


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("start", "yesterday"),
        ("start", "2026-13-01"),
        ("end", "not a date"),
        ("end", "2026-02-30"),
        pytest.param(
            "start",
            "P1D",
        ),
        pytest.param(
            "end",
            "2026-03-01/2026-03-02",
        ),
    ],
    ids=["start-word", "start-bad-month", "end-words", "end-bad-day", "start-iso-duration", "end-iso-interval"],
)
def test_bad_string_is_rejected_naming_the_param(param: str, value: str) -> None:
    with pytest.raises(ValueError, match=f"`{param}` must be an ISO 8601 date or timestamp") as caught:
        resolve_window({}, **{param: value}, now=NOW)
    assert repr(value) in str(caught.value)


def test_empty_strings_are_absent() -> None:
    """The DAG templates render `{{ params.start or '' }}`: an unset param arrives as ''."""
    window = resolve_window(_context("scheduled"), start="", end="", now=NOW)
    assert window == LoadWindow(INTERVAL_START, None, "data interval start, then stored cursor")

    only_end = resolve_window({}, start="", end=datetime(2026, 3, 5, tzinfo=UTC), now=NOW)
    assert only_end.start == datetime(2026, 3, 4, tzinfo=UTC)
    assert only_end.end == datetime(2026, 3, 5, tzinfo=UTC)


# --- timezones --------------------------------------------------------------------------------


def test_naive_datetimes_are_utc() -> None:
    window = resolve_window({}, start=datetime(2026, 3, 1, 8), end=datetime(2026, 3, 1, 9), now=NOW)
    assert window.start == datetime(2026, 3, 1, 8, tzinfo=UTC)
    assert window.end == datetime(2026, 3, 1, 9, tzinfo=UTC)
    assert window.start.utcoffset() == timedelta(0)


def test_naive_strings_and_dates_are_utc() -> None:
    window = resolve_window({}, start="2026-03-01T08:00:00", end="2026-03-02", now=NOW)
    assert window.start == datetime(2026, 3, 1, 8, tzinfo=UTC)
    assert window.end == datetime(2026, 3, 2, tzinfo=UTC)
    assert window.start.utcoffset() == timedelta(0)
    assert window.end.utcoffset() == timedelta(0)


def test_offsets_are_converted_to_utc() -> None:
    window = resolve_window(
        {},
        start="2026-03-01T10:00:00+02:00",
        end=datetime(2026, 3, 1, 9, tzinfo=timezone(timedelta(hours=-5))),
        now=NOW,
    )
    assert window.start == datetime(2026, 3, 1, 8, tzinfo=UTC)
    assert window.end == datetime(2026, 3, 1, 14, tzinfo=UTC)
    assert window.start.utcoffset() == timedelta(0)
    assert window.end.utcoffset() == timedelta(0)


def test_naive_data_interval_is_utc() -> None:
    window = resolve_window(_context("scheduled", start=datetime(2026, 3, 9, 6), end=datetime(2026, 3, 10, 6)))
    assert window.start == datetime(2026, 3, 9, 6, tzinfo=UTC)
    assert window.start.utcoffset() == timedelta(0)


# --- run types ---------------------------------------------------------------------------------


def test_backfill_run_loads_its_data_interval_statelessly() -> None:
    window = resolve_window(_context("backfill"), now=NOW)
    assert window == LoadWindow(INTERVAL_START, INTERVAL_END, "backfill data interval")
    assert window.stateless


def test_backfill_with_pendulum_interval() -> None:
    """Airflow hands the task pendulum DateTimes, in the DAG's timezone."""
    start = pendulum.datetime(2026, 3, 9, tz="Europe/Berlin")
    end = pendulum.datetime(2026, 3, 10, tz="Europe/Berlin")
    window = resolve_window(_context("backfill", start=start, end=end), now=NOW)
    assert window.start == datetime(2026, 3, 8, 23, tzinfo=UTC)
    assert window.end == datetime(2026, 3, 9, 23, tzinfo=UTC)
    assert window.stateless


def test_backfill_run_type_from_airflow_core_enum() -> None:
    types = pytest.importorskip("airflow.utils.types")
    window = resolve_window(_context(types.DagRunType.BACKFILL_JOB), now=NOW)
    assert (window.start, window.end) == (INTERVAL_START, INTERVAL_END)
    assert window.stateless


def test_backfill_run_type_from_task_sdk_enum() -> None:
    """What a task actually sees in Airflow 3: the Task SDK's DagRun model with its own enum."""
    generated = pytest.importorskip("airflow.sdk.api.datamodels._generated")
    window = resolve_window(_context(generated.DagRunType.BACKFILL), now=NOW)
    assert (window.start, window.end) == (INTERVAL_START, INTERVAL_END)
    assert window.stateless


def test_backfill_without_a_real_interval_falls_back_to_the_cursor() -> None:
    window = resolve_window(_context("backfill", end=INTERVAL_START), now=NOW)
    assert window == LoadWindow(INTERVAL_START, None, "data interval start, then stored cursor")


@pytest.mark.parametrize("run_type", ["scheduled", "manual", "asset_triggered", "SCHEDULED"])
def test_run_with_a_data_interval_continues_from_the_cursor_seeded_by_interval_start(run_type: str) -> None:
    window = resolve_window(_context(run_type), now=NOW)
    assert window == LoadWindow(INTERVAL_START, None, "data interval start, then stored cursor")
    assert not window.stateless
    assert window.to_dict()["end"] is None
    assert window.describe().startswith("from the stored cursor (first run: from 2026-03-09T00:00:00Z)")


def test_scheduled_run_type_from_task_sdk_enum_is_stateful() -> None:
    generated = pytest.importorskip("airflow.sdk.api.datamodels._generated")
    window = resolve_window(_context(generated.DagRunType.SCHEDULED), now=NOW)
    assert window.start == INTERVAL_START
    assert window.end is None


@pytest.mark.parametrize(
    "context",
    [
        {},
        {"dag_run": SimpleNamespace(run_type="manual"), "data_interval_start": None, "data_interval_end": None},
        {"dag_run": None},
    ],
    ids=["empty-context", "manual-without-logical-date", "no-dag-run"],
)
def test_no_data_interval_loads_initial_lookback_statefully(context: dict[str, Any]) -> None:
    window = resolve_window(context, initial_lookback=timedelta(hours=3), now=NOW)
    assert window == LoadWindow(NOW - timedelta(hours=3), None, "no data interval: stored cursor or initial lookback")
    assert not window.stateless


def test_no_data_interval_default_lookback_is_one_day() -> None:
    window = resolve_window({}, now=NOW)
    assert window.start == NOW - timedelta(days=1)
    assert window.end is None
