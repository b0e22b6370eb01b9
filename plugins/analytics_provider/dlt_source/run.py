"""One task's load: the dlt pipeline on the state restored from the destination, the source built
on it, one run (extract and normalize, then load under the destination's lock and the SQL that must
see the load under the same lock: pruning the recorded keys, planning the refresh), the summary."""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from analytics_provider.config.model import ResourceSpec
from analytics_provider.dlt_source.builder import SourceArgs, build_source, source_name
from analytics_provider.dlt_source.responses import requests_text
from analytics_provider.dlt_source.window import LoadWindow
from analytics_provider.warehouse.destinations import DestinationTarget
from analytics_provider.warehouse.written import WrittenTables, record_written


@dataclass(frozen=True)
class RunOptions:
    """The operator's flags for how a load runs."""

    file_format: str | None = None
    """dlt's loader file format; None: the destination's preferred one."""
    strict_schema: bool = False
    full_refresh: bool = False


@dataclass
class Loaded:
    summary: dict[str, Any]
    """The task's XCom: rows per table, load ids, requests, the window, the refresh."""
    written: WrittenTables


def load_resource(
    resource: ResourceSpec,
    window: LoadWindow,
    keys: Sequence[dict[str, Any]] | None,
    *,
    records: Sequence[str],
    api: SourceArgs,
    target: DestinationTarget,
    options: RunOptions,
    after_load: Callable[[Any], Any] | None,
    fetched_requests: int,
    log: Any,
) -> Loaded:
    """Load `resource` (for a child: its `keys`) into `target`: the state restored under the lock,
    stored cursors forgotten on a full refresh, the source built and run, the summary logged."""
    started = time.monotonic()
    parent_keys = list(keys) if keys is not None else None
    with tempfile.TemporaryDirectory(prefix="analytics_dlt_") as workdir:
        pipeline = _restored_pipeline(f"{api.dataset}__{resource.name}", window, api.dataset, target, workdir)
        _log_start(log, resource, window, parent_keys, target, api.dataset)
        if options.full_refresh and resource.incremental and not window.stateless:
            forgotten = forget_cursors(pipeline, source_name(api.dataset, resource.name))
            log.info("Full refresh of `%s`: forgot %d stored cursors", resource.name, forgotten)
        built = build_source(
            resource, api, window=window, records=records, parent_keys=parent_keys, state=dict(pipeline.state)
        )

        def extracted(seconds: float) -> None:
            log.info("Extracted `%s`: %d requests in %.1fs", resource.name, built.stats.total, seconds)

        result = run_pipeline(
            pipeline,
            built.source,
            hold=partial(target.holding, api.dataset, pipeline),
            file_format=options.file_format or target.file_format,
            load_workers=target.load_workers,
            strict_schema=options.strict_schema,
            after_load=after_load,
            describe=extracted,
        )
        log.info(
            "Loaded `%s`: rows %s, load %s, %s, %.1fs",
            resource.name,
            result.rows or "{}",
            ",".join(result.load_ids) or "-",
            requests_text(built.stats.by_status, fetched_requests),
            time.monotonic() - started,
        )
        requests = fetched_requests + built.stats.total
        out = load_summary(resource, window, parent_keys, result, requests, built.stats.not_found_as_empty)
        return Loaded(out, record_written(pipeline, api.dataset, result.rows))


def _restored_pipeline(name: str, window: LoadWindow, dataset: str, target: DestinationTarget, workdir: str) -> Any:
    """A dlt pipeline in `workdir` with its state restored from the destination, under its lock.
    An explicit window's runs have a pipeline name of their own: they never move the scheduled cursor."""
    import dlt

    pipeline = dlt.pipeline(
        pipeline_name=name + ("__window" if window.stateless else ""),
        destination=target.factory(),
        dataset_name=dataset,
        pipelines_dir=workdir,
    )
    with target.holding(dataset, pipeline):
        pipeline.sync_destination()
    return pipeline


def _log_start(
    log: Any,
    resource: ResourceSpec,
    window: LoadWindow,
    keys: Sequence[Any] | None,
    target: DestinationTarget,
    dataset: str,
) -> None:
    log.info(
        "Loading `%s` (%s%s) into %s, dataset `%s`, window %s",
        resource.name,
        resource.endpoint.path,
        f", {len(keys or [])} parent keys" if resource.parent else "",
        target.display,
        dataset,
        window.describe() if resource.incremental else "n/a (full read)",
    )


def load_summary(
    resource: ResourceSpec,
    window: LoadWindow,
    keys: Sequence[Any] | None,
    result: RunResult | None = None,
    requests: int = 0,
    not_found_as_empty: int = 0,
) -> dict[str, Any]:
    """The XCom summary of a load (`result` None: nothing was loaded)."""
    summary = {
        "resource": resource.name,
        "rows": result.rows if result else {},
        "load_ids": result.load_ids if result else [],
        "requests": requests,
        "not_found_as_empty": not_found_as_empty,
        "window": window.to_dict() if resource.incremental else None,
        "parent_keys": len(keys or []),
    }
    refresh = result.after_load if result else None
    if refresh is not None:
        summary["refresh"] = refresh.summary()
        summary["refresh_parents"] = refresh.parents()
    return summary


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
    hold: Callable[[], contextlib.AbstractContextManager[Any]],
    file_format: str | None,
    load_workers: int | None,
    strict_schema: bool,
    after_load: Callable[[Any], Any] | None = None,
    describe: Callable[[float], None] | None = None,
) -> RunResult:
    """Extract and normalize outside the destination's lock (they touch only local files), load and
    then call `after_load(sql)` inside it (`hold()`). `describe(seconds)` is told when extraction
    ended."""
    started = time.monotonic()
    pipeline.extract(
        source,
        loader_file_format=file_format,
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
    with hold():
        load_info = pipeline.load(workers=load_workers) if load_workers else pipeline.load()
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
