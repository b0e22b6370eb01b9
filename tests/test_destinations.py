"""Destinations: the DuckDB file's memory bound, and the read session plan tasks use."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analytics_provider.destinations import open_sql


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
