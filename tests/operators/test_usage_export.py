"""`AnalyticsUsageExportOperator` + `UsageExportTrigger` against the emulator's export job, loading
into a real DuckDB file and the real PostgreSQL; the table equals the emulator's truth by value.

The deferral is driven as Airflow drives it: `execute` raises `TaskDeferred`, the trigger is
re-built from its serialized form and run to its first event, the method it names resumes.
(tests/e2e/test_usage_triggerer.py runs the same under a real `airflow triggerer`.)
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException, TaskDeferred

from analytics_provider.operators.usage_export import AnalyticsUsageExportOperator, split_window
from analytics_provider.usage_csv import _value
from tests.conftest import API_KEY

START, END = "2026-11-10T00:00:00Z", "2026-11-20T00:00:00Z"


async def first_event(trigger: Any) -> Any:
    async for event in trigger.run():
        return event.payload
    raise AssertionError("the trigger ended without an event")


def run_deferrable(op: AnalyticsUsageExportOperator, context: dict[str, Any]) -> tuple[Any, int]:
    """The operator's result and how many times it deferred."""
    import importlib

    deferrals = 0
    try:
        return op.execute(context), deferrals
    except TaskDeferred as exc:
        deferred = exc
    while True:
        deferrals += 1
        path, kwargs = deferred.trigger.serialize()
        json.dumps(kwargs)  # what Airflow stores must be JSON
        module, _, name = path.rpartition(".")
        trigger = getattr(importlib.import_module(module), name)(**kwargs)
        payload = asyncio.run(first_event(trigger))
        try:
            # as `airflow dags test` does: the event only (a real triggerer also passes defer's kwargs: none)
            return getattr(op, deferred.method_name)(context, event=payload), deferrals
        except TaskDeferred as exc:
            deferred = exc


def operator(org_id: str, **kwargs: Any) -> AnalyticsUsageExportOperator:
    return AnalyticsUsageExportOperator(
        task_id="usage", start=START, end=END, org_ids=org_id, poll_interval=0.1, **kwargs
    )


def truth(emulator: Any, org_id: str, start: str, end: str) -> list[dict[str, Any]]:
    from analytics_provider.testing.emulator import usage_export

    return usage_export.truth(emulator.app.api.usage, org_id, start, end)


def warehouse_rows(conn_id: str | None, columns: list[str]) -> list[dict[str, Any]]:
    from analytics_provider.warehouse.destinations import open_sql

    with open_sql(conn_id, "analytics") as sql:
        table = sql.make_qualified_table_name("usage")
        rows = sql.execute_sql(f"SELECT {', '.join(columns)} FROM {table} ORDER BY job_id")
    return [dict(zip(columns, row, strict=True)) for row in rows]


def expected_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    typed = [{k: None if v is None else _value(k, str(v)) for k, v in row.items()} for row in rows]
    return sorted(typed, key=lambda r: r["job_id"])


def assert_equals_truth(conn_id: str | None, expected: list[dict[str, Any]]) -> None:
    assert expected, "the window holds job runs"
    got = warehouse_rows(conn_id, list(expected[0]))
    assert got == expected_rows(expected)


@pytest.mark.parametrize("destination", ["duckdb", "postgres"])
def test_usage_equals_truth_after_full_and_repeated_load(
    emulator: Any, api_connection: str, duckdb_path: Any, pg_database: str, destination: str
) -> None:
    emulator.app.api.usage.configure({"delay_s": 0.3})
    org = emulator.state.world.orgs[0]
    conn_id = "analytics_warehouse" if destination == "postgres" else None
    summary, deferrals = run_deferrable(operator(org.id, destination_conn_id=conn_id), {})
    inclusive_end = "2026-11-19T23:59:59Z"
    expected = truth(emulator, org.id, START, inclusive_end)
    assert deferrals == 1 and summary["rows"] == len(expected)
    assert_equals_truth(conn_id, expected)
    # the next day's run overlaps nothing, a repeated run merges: no duplicates either way
    summary, _ = run_deferrable(operator(org.id, destination_conn_id=conn_id), {})
    assert_equals_truth(conn_id, expected)


def test_window_longer_than_31_days_is_split_into_sequential_exports(
    emulator: Any, api_connection: str, duckdb_path: Any
) -> None:
    emulator.app.api.usage.configure({"delay_s": 0.1, "max_active": 1})
    org = emulator.state.world.orgs[1]
    op = AnalyticsUsageExportOperator(
        task_id="usage", start="2026-10-01T00:00:00Z", end="2026-11-20T12:00:00Z", org_ids=org.id, poll_interval=0.1
    )
    summary, deferrals = run_deferrable(op, {})
    assert deferrals == 2 and [e["end"] for e in summary["exports"]] == ["2026-10-31T23:59:59Z", "2026-11-20T11:59:59Z"]
    expected = truth(emulator, org.id, "2026-10-01T00:00:00Z", "2026-11-20T11:59:59Z")
    assert_equals_truth(None, expected)


def test_split_window_pieces() -> None:
    from datetime import datetime, timezone

    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    pieces = split_window(start, start + timedelta(days=62))
    assert pieces == [
        ("2026-01-01T00:00:00Z", "2026-01-31T23:59:59Z"),
        ("2026-02-01T00:00:00Z", "2026-03-03T23:59:59Z"),
    ]


def test_expired_url_is_read_again_and_downloads_carry_no_key(
    emulator: Any, api_connection: str, duckdb_path: Any
) -> None:
    emulator.app.api.usage.configure({"delay_s": 0.1, "expire_next": 1})
    org = emulator.state.world.orgs[0]
    summary, _ = run_deferrable(operator(org.id), {})
    assert summary["rows"] == len(truth(emulator, org.id, START, "2026-11-19T23:59:59Z"))
    stats = emulator.stats()
    downloads = {k: v for k, v in stats["routes"].items() if "usage-exports" in k}
    assert sum(downloads.values()) == 3, "two files, the first once more after its URL expired"
    assert all(int(s) < 400 or int(s) == 403 for s in stats["by_status"]), "no download refused for carrying the key"


def test_failed_export_fails_the_task_naming_the_job(emulator: Any, api_connection: str, duckdb_path: Any) -> None:
    emulator.app.api.usage.configure({"delay_s": 0.1, "fail_next": 1})
    org = emulator.state.world.orgs[0]
    with pytest.raises(AirflowFailException, match=rf"Usage export `[0-9a-f-]+` of org `{org.id}`.*failed: Query"):
        run_deferrable(operator(org.id), {})


def test_urls_that_stay_expired_fail_clearly(emulator: Any, api_connection: str, duckdb_path: Any) -> None:
    emulator.app.api.usage.configure({"delay_s": 0.1, "url_ttl_s": -1})
    org = emulator.state.world.orgs[0]
    with pytest.raises(AirflowException, match="expired too") as info:
        run_deferrable(operator(org.id), {})
    assert "Signature" not in str(info.value) and API_KEY not in str(info.value)


def test_export_timeout(emulator: Any, api_connection: str, duckdb_path: Any) -> None:
    emulator.app.api.usage.configure({"delay_s": 600})
    org = emulator.state.world.orgs[0]
    op = operator(org.id, export_timeout=timedelta(seconds=0.5))
    with pytest.raises(AirflowException, match="was not done after"):
        run_deferrable(op, {})


def test_window_older_than_a_year_is_refused_by_name(emulator: Any, api_connection: str, duckdb_path: Any) -> None:
    org = emulator.state.world.orgs[0]
    op = AnalyticsUsageExportOperator(
        task_id="usage", start="2025-01-01T00:00:00Z", end="2025-01-02T00:00:00Z", org_ids=org.id
    )
    with pytest.raises(AirflowFailException, match=r"HTTP 400 from POST .*no more than one year ago") as info:
        run_deferrable(op, {})
    assert API_KEY not in str(info.value)


def test_key_in_the_query_is_not_sent_with_downloads(
    emulator: Any, api_connection: str, duckdb_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = {"conn_type": "analytics_api", "host": emulator.base_url, "password": API_KEY}
    conn["extra"] = {"auth_header": "api_key", "auth_location": "query"}  # type: ignore[assignment]
    monkeypatch.setenv("AIRFLOW_CONN_ANALYTICS_API_DEFAULT", json.dumps(conn))
    emulator.app.api.usage.configure({"delay_s": 0.1})
    org = emulator.state.world.orgs[0]
    summary, _ = run_deferrable(operator(org.id), {})
    assert summary["rows"] == len(truth(emulator, org.id, START, "2026-11-19T23:59:59Z"))


def test_trigger_state_and_events_hold_no_secret(emulator: Any, api_connection: str, duckdb_path: Any) -> None:
    emulator.app.api.usage.configure({"delay_s": 0.1})
    org = emulator.state.world.orgs[0]
    with pytest.raises(TaskDeferred) as info:
        operator(org.id).execute({})
    _, kwargs = info.value.trigger.serialize()
    assert set(kwargs) == {"conn_id", "org_id", "job_id", "deadline", "poll_interval", "carry"}
    payload = asyncio.run(first_event(info.value.trigger))
    stored = json.dumps([kwargs, info.value.kwargs, payload])
    assert payload["status"] == "completed" and API_KEY not in stored and "usage-exports" not in stored


def test_an_export_in_progress_makes_the_next_wait_its_turn(
    emulator: Any, api_connection: str, duckdb_path: Any
) -> None:
    import requests

    emulator.app.api.usage.configure({"delay_s": 1.0, "max_active": 1})
    org = emulator.state.world.orgs[0]
    other = requests.post(
        f"{emulator.base_url}/v2/organizations/{org.id}/usage_export_job",
        json={"start": START, "end": "2026-11-11T00:00:00Z"},
        headers={"api_key": API_KEY},
    )
    assert other.status_code == 201
    summary, _ = run_deferrable(operator(org.id), {})  # its POST: 429 + Retry-After, retried by the session
    assert summary["rows"] == len(truth(emulator, org.id, START, "2026-11-19T23:59:59Z"))
    assert emulator.stats()["by_status"].get("429", emulator.stats()["by_status"].get(429)) == 1


def test_unreachable_api_while_polling_is_an_error_event_without_secrets(api_connection: str, emulator: Any) -> None:
    from analytics_provider.triggers.usage_export import UsageExportTrigger

    emulator.stop()
    trigger = UsageExportTrigger("analytics_api_default", "org", "job", deadline=9e9, poll_interval=0.1)
    payload = asyncio.run(first_event(trigger))
    assert payload["status"] == "error" and "ConnectionError" in payload["message"]
    assert API_KEY not in json.dumps(payload)
