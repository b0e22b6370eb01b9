"""One dlt run of a built source against a real DuckDB file: extract and normalize outside the
destination's lock, the load and the SQL that must see it inside; the summary of a load."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dlt

from analytics_provider.config.loader import load_spec
from analytics_provider.dlt_source.run import load_summary, run_pipeline
from analytics_provider.dlt_source.window import LoadWindow

SPEC = load_spec()


def test_the_load_and_the_after_load_sql_run_inside_the_lock_and_extraction_outside(tmp_path: Path) -> None:
    events: list[str] = []
    pipeline = dlt.pipeline(
        pipeline_name="test_run",
        destination=dlt.destinations.duckdb(str(tmp_path / "w.duckdb")),
        dataset_name="analytics",
        pipelines_dir=str(tmp_path / "dlt"),
    )

    @dlt.resource(name="things", primary_key="id", write_disposition="merge")
    def things() -> Iterator[dict[str, Any]]:
        events.append("extract")
        yield from ({"id": i, "name": f"t{i}"} for i in range(3))

    @contextlib.contextmanager
    def hold() -> Iterator[None]:
        events.append("lock")
        yield
        events.append("unlock")

    def after_load(sql: Any) -> list[tuple[Any, ...]]:
        events.append("after_load")
        with sql.execute_query("SELECT id, name FROM things ORDER BY id") as cursor:
            return cursor.fetchall()

    result = run_pipeline(
        pipeline,
        things(),
        hold=hold,
        file_format=None,
        load_workers=None,
        strict_schema=False,
        after_load=after_load,
        describe=lambda seconds: events.append("extracted"),
    )
    assert events == ["extract", "extracted", "lock", "after_load", "unlock"]
    assert result.rows == {"things": 3}, "dlt's own tables are not counted"
    assert result.after_load == [(0, "t0"), (1, "t1"), (2, "t2")], "the SQL sees the rows just loaded"
    assert len(result.load_ids) == 1


def test_the_summary_of_nothing_loaded_names_the_resource_and_its_window() -> None:
    window = LoadWindow(None, None, "scheduled")
    summary = load_summary(SPEC.resource("pipelines"), window, [])
    assert summary == {
        "resource": "pipelines",
        "rows": {},
        "load_ids": [],
        "requests": 0,
        "not_found_as_empty": 0,
        "window": window.to_dict(),
        "parent_keys": 0,
    }
    assert load_summary(SPEC.resource("self_collaborations"), window, None)["window"] is None, "not incremental"
