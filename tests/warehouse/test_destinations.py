"""Destinations: the DuckDB file's memory bound, and the read session plan tasks use."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from analytics_provider.warehouse.destinations import open_sql


def _memory_limit_mib(conn_id: str | None = None) -> float:
    with open_sql(conn_id, "analytics") as sql:
        ((value,),) = sql.execute_sql("SELECT current_setting('memory_limit')")
    number, unit = value.split()
    return float(number) * {"MiB": 1, "GiB": 1024}[unit]


def test_default_duckdb_is_bounded_to_128_mb(duckdb_path: Path) -> None:
    """DuckDB's own default is 80 % of RAM per process; four tasks on a worker would claim 3.2x."""
    assert 100 <= _memory_limit_mib() <= 128
    assert duckdb_path.exists()


def test_memory_limit_from_the_environment(duckdb_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANALYTICS_DUCKDB_MEMORY_LIMIT", "1GB")
    assert 900 <= _memory_limit_mib() <= 1024


def test_memory_limit_from_a_duckdb_connection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "other.duckdb"
    conn = {"conn_type": "duckdb", "extra": {"path": str(path), "memory_limit": "300MB"}}
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps(conn))
    assert 280 <= _memory_limit_mib("warehouse") <= 300
    assert path.exists()


@pytest.mark.integration
def test_many_files_of_a_table_load_within_the_bound_without_retries(
    emulator: Any, api_connection: str, duckdb_path: Path, monkeypatch: pytest.MonkeyPatch, mocker: Any
) -> None:
    """dlt's `file_max_items` splits a table into many load files. Loaded in parallel (dlt's 20
    workers), the jobs shared the file's memory limit, ran out of it and were retried, logging
    DuckDB's out-of-memory errors (4 retries at 64 MB in this test before the fix)."""
    from analytics_provider.dlt_runtime import _ForwardToTaskLog
    from analytics_provider.testing.chain import run_chain, task_context
    from tests.conftest import EMULATOR_NOW

    monkeypatch.setenv("DATA_WRITER__FILE_MAX_ITEMS", "100")
    monkeypatch.setenv("ANALYTICS_DUCKDB_MEMORY_LIMIT", "64MB")
    forwarded = mocker.spy(_ForwardToTaskLog, "emit")
    start = (EMULATOR_NOW - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%S")
    out = run_chain(["self_collaborations", "pipelines"], task_context(), start=start, end=EMULATOR_NOW.isoformat())

    truth = emulator.truth("pipelines", since=start)
    assert len(truth) > 500, "enough rows for several files"
    assert out["pipelines"][0]["rows"]["pipelines"] == len(truth)
    with open_sql(None, "analytics") as sql:
        ((loaded,),) = sql.execute_sql("SELECT count(*) FROM pipelines")
    assert loaded == len(truth)
    errors = [call.args[1].getMessage() for call in forwarded.call_args_list if call.args[1].levelname == "ERROR"]
    assert not errors, f"dlt logged errors: {errors[:2]}"


def test_another_destination_gets_a_machine_wide_lock_and_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import threading

    from analytics_provider.warehouse.destinations import resolve_destination

    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE_X", json.dumps({"conn_type": "snowflake", "host": "acct"}))
    target = resolve_destination("warehouse_x")
    caplog.set_level("WARNING", logger="analytics_provider.warehouse.destinations")
    order: list[str] = []

    def second_writer() -> None:
        with target.lock_for("analytics"):
            order.append("other")

    with target.lock_for("analytics"):
        other = threading.Thread(target=second_writer)
        other.start()
        other.join(0.5)
        order.append("first")
    other.join(5)
    assert order == ["first", "other"], "a second writer waited for the first"
    warnings = [r.getMessage() for r in caplog.records if "serialised per machine only" in r.getMessage()]
    assert len(warnings) == 1 and "snowflake" in warnings[0]
