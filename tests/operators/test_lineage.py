"""OpenLineage facets of the load operator: its input (the API endpoint) and outputs (the tables it
wrote, with row counts and schema) as the OpenLineage provider collects them, with no key in any."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from analytics_provider.operators.load import AnalyticsLoadOperator
from analytics_provider.testing.chain import task_context
from tests.conftest import API_KEY, EMULATOR_NOW

pytest.importorskip("airflow.providers.openlineage")
pytestmark = pytest.mark.integration
Query = Callable[[str], list[tuple[Any, ...]]]
WINDOW = {
    "start": (EMULATOR_NOW - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S"),
    "end": EMULATOR_NOW.strftime("%Y-%m-%dT%H:%M:%S"),
}


@pytest.fixture(params=["duckdb", "postgres"])
def destination(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, ...]:
    if request.param == "duckdb":
        import duckdb

        path = tmp_path / "warehouse.duckdb"
        monkeypatch.setenv("ANALYTICS_DUCKDB_PATH", str(path))

        def query(sql: str) -> list[tuple[Any, ...]]:
            with duckdb.connect(str(path), read_only=True) as con:
                return con.execute(sql).fetchall()

        return None, query, f"duckdb://{path.resolve()}", "analytics"
    import psycopg2

    database = request.getfixturevalue("pg_database")

    def pg_query(sql: str) -> list[tuple[Any, ...]]:
        with psycopg2.connect(host="127.0.0.1", user="postgres", dbname=database) as con, con.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()

    return "analytics_warehouse", pg_query, "postgres://127.0.0.1:5432", f"{database}.analytics"


@pytest.fixture
def key_in_query(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """The connection with the key in the query string: the place a key would leak into a URL."""
    conn = {
        "conn_type": "analytics_api",
        "host": emulator.base_url,
        "password": API_KEY,
        "extra": {"auth_header": "circle-token", "auth_location": "query"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_ANALYTICS_API_DEFAULT", json.dumps(conn))
    return "analytics_api_default"


def _serialized(lineage: Any) -> str:
    from openlineage.client.serde import Serde

    return json.dumps([json.loads(Serde.to_json(d)) for d in [*lineage.inputs, *lineage.outputs]])


def test_facets_name_the_endpoint_and_the_tables_written_with_rows_and_schema(
    emulator: Any, key_in_query: str, destination: tuple[Any, ...]
) -> None:
    conn_id, query, namespace, prefix = destination
    op = AnalyticsLoadOperator(task_id="pipelines", resource="pipelines", destination_conn_id=conn_id, **WINDOW)
    summary = op.execute(task_context())

    lineage = op.get_openlineage_facets_on_complete(None)

    base = urlsplit(emulator.base_url)
    source, orgs = lineage.inputs
    assert source.namespace == orgs.namespace == f"{base.scheme}://{base.hostname}:{base.port}"
    assert source.name == base.path + "/v2/pipeline", "the endpoint's path, no query"
    assert orgs.name == base.path + "/v2/me/collaborations", "`fetch_parent`: the orgs are read by the task too"
    written = {d.name: d for d in lineage.outputs}
    assert set(written) == {f"{prefix}.{t}" for t in summary["rows"]} and f"{prefix}.pipelines" in written
    (load_id,) = summary["load_ids"]
    for table, rows in summary["rows"].items():
        out = written[f"{prefix}.{table}"]
        assert out.namespace == namespace
        landed = query(f"SELECT count(*) FROM analytics.{table} WHERE _dlt_load_id = '{load_id}'")[0][0]
        if table != "pipelines":  # a nested table's rows carry their root's load id only through it
            landed = query(f"SELECT count(*) FROM analytics.{table}")[0][0]
        assert out.outputFacets["outputStatistics"].rowCount == rows == landed, table
        columns = {
            r[0]
            for r in query(
                "SELECT column_name FROM information_schema.columns "
                f"WHERE table_schema = 'analytics' AND table_name = '{table}'"
            )
        }
        fields = out.facets["schema"].fields
        assert {f.name for f in fields} == columns, table
        assert all(f.type for f in fields), table
    types = {f.name: f.type for f in written[f"{prefix}.pipelines"].facets["schema"].fields}
    assert types["created_at"] == "timestamp" and types["number"] == "bigint" and types["id"] == "text"
    text = _serialized(lineage)
    assert API_KEY not in text and "circle-token" not in text and "?" not in source.name


def test_a_task_that_loaded_nothing_reports_its_input_and_no_outputs(emulator: Any, api_connection: str) -> None:
    op = AnalyticsLoadOperator(task_id="t", resource="pipeline_workflows", parent_keys=[])
    op.execute(task_context())
    lineage = op.get_openlineage_facets_on_complete(None)
    path = urlsplit(emulator.base_url).path + "/v2/pipeline/{pipeline_id}/workflow"
    assert [d.name for d in lineage.inputs] == [path], "the path template: no parent ids"
    assert lineage.outputs == []
