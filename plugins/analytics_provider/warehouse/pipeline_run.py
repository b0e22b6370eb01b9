"""One dlt run of a built source: extract, normalize, and load under the destination's lock, then the
SQL that must see the load (pruning the recorded keys, planning the refresh) under the same lock."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from analytics_provider.warehouse.destinations import DestinationTarget


@dataclass
class RunResult:
    rows: dict[str, int]
    """Rows per table of this load (dlt's own tables and the recorded child keys left out)."""
    load_ids: list[str]
    after_load: Any
    """What `after_load` returned."""


def run_pipeline(
    pipeline: Any,
    source: Any,
    *,
    target: DestinationTarget,
    dataset: str,
    file_format: str | None,
    strict_schema: bool,
    after_load: Callable[[Any], Any] | None = None,
    describe: Callable[[float], None] | None = None,
) -> RunResult:
    """Extract and normalize outside the lock (they touch only local files), load and then call
    `after_load(sql)` inside it. `describe(seconds)` is told when extraction ended."""
    started = time.monotonic()
    pipeline.extract(
        source,
        loader_file_format=file_format or target.file_format,
        schema_contract={"columns": "freeze", "data_type": "freeze"} if strict_schema else None,
    )
    if describe is not None:
        describe(time.monotonic() - started)
    pipeline.normalize()
    rows = {
        table: count
        for table, count in (pipeline.last_trace.last_normalize_info.row_counts or {}).items()
        if not table.startswith("_")
    }
    with target.holding(dataset, pipeline):
        load_info = pipeline.load(workers=target.load_workers) if target.load_workers else pipeline.load()
        result = None
        if after_load is not None:
            with pipeline.sql_client() as sql:
                result = after_load(sql)
    return RunResult(rows=rows, load_ids=list(load_info.loads_ids), after_load=result)


def forget_cursors(pipeline: Any, source: str) -> int:
    """Drop the incremental state of every resource of `source` (it is written back with the run)."""
    with pipeline.managed_state() as state:
        resources = state.get("sources", {}).get(source, {}).get("resources", {})
        forgotten = sum(1 for r in resources.values() if r.pop("incremental", None) is not None)
    return forgotten
