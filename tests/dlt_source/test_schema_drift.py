"""Schema drift from the API (the emulator's `drift` fault) into a real DuckDB file."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from analytics_provider.testing.chain import run_chain, task_context
from tests.conftest import EMULATOR_NOW
from tests.operators.test_load import _duckdb_query

pytestmark = pytest.mark.integration
WINDOW = task_context(EMULATOR_NOW - timedelta(days=1), EMULATOR_NOW)
CHAIN = ["self_collaborations", "pipelines"]


def _drift(emulator: Any, **change: Any) -> None:
    rule = {"kind": "drift", "count": 1_000_000, "path": "^/v2/pipeline$", **change}
    emulator.set_faults({"seed": 1, "rules": [rule]})


def _columns(query: Any) -> dict[str, str]:
    rows = query(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'analytics' AND table_name = 'pipelines'"
    )
    return dict(rows)


def test_a_new_field_becomes_a_new_column(emulator: Any, api_connection: str, duckdb_path: Path) -> None:
    query = _duckdb_query(duckdb_path)
    run_chain(CHAIN, WINDOW)
    assert "build_region" not in _columns(query)
    _drift(emulator, add={"build_region": "eu-west-1"})
    run_chain(CHAIN, WINDOW)
    assert "build_region" in _columns(query)
    assert query("SELECT count(*) FROM analytics.pipelines WHERE build_region = 'eu-west-1'")[0][0] > 0


def test_a_changed_type_does_not_break_the_load(emulator: Any, api_connection: str, duckdb_path: Path) -> None:
    query = _duckdb_query(duckdb_path)
    run_chain(CHAIN, WINDOW)
    before = query("SELECT count(*), count(DISTINCT id) FROM analytics.pipelines")[0]
    _drift(emulator, retype={"number": "str"}, add={"number": "not-a-number"})
    run_chain(CHAIN, WINDOW)
    columns = _columns(query)
    assert any(name.startswith("number__v_") for name in columns), columns  # dlt's variant column
    assert query("SELECT count(*), count(DISTINCT id) FROM analytics.pipelines")[0] == before


def test_strict_schema_names_the_offending_field(emulator: Any, api_connection: str, duckdb_path: Path) -> None:
    run_chain(CHAIN, WINDOW, strict_schema=True)
    _drift(emulator, add={"build_region": "eu-west-1"})
    with pytest.raises(AirflowFailException) as caught:
        run_chain(CHAIN, WINDOW, strict_schema=True)
    message = str(caught.value)
    assert "`pipelines`" in message and "`build_region`" in message and "strict schema" in message
    assert "build_region" not in _columns(_duckdb_query(duckdb_path))
