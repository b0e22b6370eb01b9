"""DuckDB jsonl loads keep what the API sent: JSON values as sent (no keys of other rows, no
re-typed timestamps inside), text that looks like a time stays text, missing keys are NULL."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import dlt
import duckdb

from analytics_provider.warehouse.destinations import resolve_destination

ROWS = [
    {"id": 1, "label": "2026-11-17T12:59:00.000Z", "branches": {"main": {"pushed_at": "2026-11-17T12:59:00.000Z"}}},
    {"id": 2, "label": "plain", "branches": {"develop": {"id": 7, "nested": {"when": "2026-01-01T00:00:00Z"}}}},
    {"id": 3, "branches": None, "extra": "only here"},
]


def test_json_and_text_land_as_sent(duckdb_path: Path) -> None:
    target = resolve_destination(None)
    assert target.file_format == "jsonl"
    columns = {"branches": {"data_type": "json"}, "label": {"data_type": "text"}}
    resource = dlt.resource(ROWS, name="things", primary_key="id", write_disposition="merge", columns=columns)
    with tempfile.TemporaryDirectory() as workdir:
        pipeline = dlt.pipeline(
            "copy_test", destination=target.factory(), dataset_name="analytics", pipelines_dir=workdir
        )
        pipeline.run(resource, loader_file_format="jsonl")
        pipeline.run(resource, loader_file_format="jsonl")  # a merge goes through the staging copy too
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        got = con.execute("SELECT id, label, branches, extra FROM analytics.things ORDER BY id").fetchall()
    assert [(i, label, json.loads(b) if b else None, extra) for i, label, b, extra in got] == [
        (r["id"], r.get("label"), r["branches"], r.get("extra")) for r in ROWS
    ]
