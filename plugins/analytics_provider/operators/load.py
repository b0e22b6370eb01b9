"""The load operator: one spec resource (optionally one batch of parent keys) through dlt into a destination."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from analytics_provider.batching import is_batch_ref, parent_loads, pull_batch, read_keys
from analytics_provider.exceptions import AnalyticsApiError, AnalyticsAuthError
from analytics_provider.hooks.analytics_api import AnalyticsApiHook, ApiSettings
from analytics_provider.operators.failures import translate_failure
from analytics_provider.operators.lineage import LineageMixin, api_inputs, record_written
from analytics_provider.spec.loader import load_spec
from analytics_provider.spec.model import ResourceSpec, Spec
from analytics_provider.wording import batch_label, requests_text


class AnalyticsLoadOperator(LineageMixin, BaseOperator):
    """Load one resource of the analytics API with dlt and merge it into the destination.

    For an incremental resource the window comes from, in order: `start`/`end` (explicit, stateless:
    the stored cursor is left alone), a backfill run's data interval (stateless), or the stored dlt
    cursor (scheduled and manual runs; the data interval start seeds the first run).

    Returns a small summary for XCom: rows per table, load ids, requests made, the window, and on
    scheduled runs of a parent with a `refresh` block the parents whose children are re-read. A
    child's keys are not in it: the child (or its `plan_<child>` task) reads them from the rows
    these loads wrote.

    :param resource: name of the resource in the spec.
    :param parent_keys: for a child resource, the batch of parent keys to load (dicts of the
        child's `bind` names), or a reference to a batch a `plan_<child>` task pushed to XCom
        (what the generated DAGs map over).
    :param parent_output: for a child resource, instead of `parent_keys`: the parent task's
        summary (its XCom, or the list of a mapped parent's); the task reads every key the
        parent's loads recorded, and is skipped when there are none.
    :param spec_path: a spec YAML; the provider's shipped spec by default.
    :param analytics_conn_id: Airflow connection of type `analytics_api`.
    :param destination_conn_id: Airflow connection of the destination (`postgres`, `duckdb`, or a
        dlt destination name as type); None means the default DuckDB file.
    :param dataset_name: dataset (schema) the tables are written to.
    :param start: explicit window start (ISO 8601), templated.
    :param end: explicit window end (ISO 8601), templated.
    :param loader_file_format: dlt file format; by default the fastest the destination takes.
    :param org_slugs: comma-separated org slugs to load (templated); empty: the connection's
        `org_slugs`, or every org of the key.
    :param full_refresh: forget the stored cursor of an incremental resource: re-read from the
        window start (`start`, else the run's data interval start) and go on from there; merged,
        so nothing is deleted. Templated; `"true"`/`"false"` strings are understood.
    :param strict_schema: freeze the columns and types of existing tables (dlt schema contract):
        a new field or a changed type fails the task naming table and column. Off by default:
        a new field becomes a new column, a changed type a variant column.
    """

    template_fields: Sequence[str] = (
        "start",
        "end",
        "dataset_name",
        "parent_keys",
        "parent_output",
        "org_slugs",
        "full_refresh",
    )
    ui_color = "#d9ecff"

    def __init__(
        self,
        *,
        resource: str,
        parent_keys: list[dict[str, Any]] | None = None,
        parent_output: dict[str, Any] | list[Any] | None = None,
        spec_path: str | None = None,
        analytics_conn_id: str = AnalyticsApiHook.default_conn_name,
        destination_conn_id: str | None = None,
        dataset_name: str = "analytics",
        start: str | None = None,
        end: str | None = None,
        loader_file_format: str | None = None,
        strict_schema: bool = False,
        org_slugs: str | list[str] | None = None,
        full_refresh: bool | str = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.resource = resource
        self.parent_keys = parent_keys
        self.parent_output = parent_output
        self.spec_path = spec_path
        self.analytics_conn_id = analytics_conn_id
        self.destination_conn_id = destination_conn_id
        self.dataset_name = dataset_name
        self.start = start
        self.end = end
        self.loader_file_format = loader_file_format
        self.strict_schema = strict_schema
        self.org_slugs = org_slugs
        self.full_refresh = full_refresh

    def execute(self, context: Any) -> dict[str, Any]:
        from analytics_provider.dlt_runtime import configure_dlt_environment

        configure_dlt_environment()
        spec = load_spec(self.spec_path)
        hook = AnalyticsApiHook(self.analytics_conn_id, client=spec.client)
        settings = hook.get_settings()
        _mask(settings)
        resource = spec.resource(self.resource).for_api(settings.api_version)
        try:
            return self._run(context, spec, resource, hook, settings)
        except AnalyticsAuthError as exc:
            error: BaseException = AirflowFailException(str(exc))
        except (AnalyticsApiError, AirflowSkipException):
            raise
        except Exception as exc:
            error = translate_failure(exc, resource.name, settings.redact)
        # raised outside the except blocks, so no __context__ carries dlt's original texts along
        raise error

    def _run(
        self, context: Any, spec: Spec, resource: ResourceSpec, hook: AnalyticsApiHook, settings: ApiSettings
    ) -> dict[str, Any]:
        import dlt

        from analytics_provider.child_keys import prune_keys
        from analytics_provider.destinations import resolve_destination
        from analytics_provider.dlt_runtime import route_dlt_logging
        from analytics_provider.dlt_source.builder import build_source, source_name
        from analytics_provider.refresh import refresh_for
        from analytics_provider.window import resolve_window

        route_dlt_logging(self.log)
        self._lineage_inputs = api_inputs(settings.base_url, spec, resource)  # OpenLineage
        initial = resource.incremental.initial_lookback if resource.incremental else None
        window = resolve_window(
            context, start=self.start, end=self.end, **({"initial_lookback": initial} if initial else {})
        )
        from analytics_provider.retention import past_retention

        retained_since = past_retention(resource, window, self.log)
        target = resolve_destination(self.destination_conn_id)
        if is_batch_ref(self.parent_keys):
            self.parent_keys = pull_batch(self.parent_keys, context)
        loads = None
        if self.parent_output is not None and resource.parent is not None:
            loads = parent_loads(self.parent_output, spec.resource(resource.parent).table)
            if loads.empty:
                _label_batch(context, [])
                raise AirflowSkipException(f"`{resource.parent}` loaded nothing: no `{resource.name}` to load")
        session = hook.get_conn(spec.client.error_handler)
        org_slugs = _slugs(self.org_slugs) or settings.org_slugs
        # what the dlt source of this resource (and of a fetched parent) is built with
        source_args = {
            "settings": settings,
            "session": session,
            "dataset": self.dataset_name,
            "window": window,
            "org_slugs": org_slugs,
        }
        fetched = 0  # requests made for the parent's rows (`fetch_parent`)
        if resource.fetch_parent and loads is None and self.parent_keys is None:
            from analytics_provider.dlt_source.parent_fetch import fetch_parent_keys

            self.parent_keys, fetched = fetch_parent_keys(spec, resource, **source_args)
        elif resource.parent is not None and loads is None and not self.parent_keys:
            self.log.info("Resource `%s`: no parent keys in this batch; nothing to load.", resource.name)
            _label_batch(context, [])
            return self._summary(resource, window, {}, [], 0, 0)
        pipeline_name = f"{self.dataset_name}__{resource.name}" + ("__window" if window.stateless else "")
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="analytics_dlt_") as workdir:
            pipeline = dlt.pipeline(
                pipeline_name=pipeline_name,
                destination=target.factory(),
                dataset_name=self.dataset_name,
                pipelines_dir=workdir,
            )
            with target.lock_for(self.dataset_name):
                pipeline.sync_destination()
                if loads is not None:
                    with pipeline.sql_client() as sql:  # under the lock, like every read of the destination
                        self.parent_keys = list(read_keys(sql, spec, resource, loads))
            if resource.parent is not None:
                _label_batch(context, self.parent_keys or [])
                if not self.parent_keys:
                    where = "the API listed" if resource.fetch_parent else "loaded"
                    raise AirflowSkipException(f"no `{resource.name}` keys in what `{resource.parent}` {where}")
            self.log.info(
                "Loading `%s` (%s%s) into %s, dataset `%s`, window %s",
                resource.name,
                resource.endpoint.path,
                f", {len(self.parent_keys or [])} parent keys" if resource.parent else "",
                target.display,
                self.dataset_name,
                window.describe() if resource.incremental else "n/a (full read)",
            )
            if _truthy(self.full_refresh) and resource.incremental and not window.stateless:
                forgotten = _forget_cursors(pipeline, source_name(self.dataset_name, resource.name))
                self.log.info("Full refresh of `%s`: forgot %d stored cursors", resource.name, forgotten)
            built = build_source(
                spec,
                resource,
                parent_keys=self.parent_keys,
                state=dict(pipeline.state),
                **source_args,
            )
            pipeline.extract(
                built.source,
                loader_file_format=self.loader_file_format or target.file_format,
                schema_contract={"columns": "freeze", "data_type": "freeze"} if self.strict_schema else None,
            )
            extracted = time.monotonic()
            self.log.info("Extracted `%s`: %d requests in %.1fs", resource.name, built.stats.total, extracted - started)
            pipeline.normalize()
            rows = {
                table: count
                for table, count in (pipeline.last_trace.last_normalize_info.row_counts or {}).items()
                if not table.startswith("_")  # dlt's own tables and the recorded child keys
            }
            with target.lock_for(self.dataset_name):
                load_info = pipeline.load(workers=target.load_workers) if target.load_workers else pipeline.load()
                refresh = None
                if spec.children(resource.name):
                    with pipeline.sql_client() as sql:
                        prune_keys(sql, resource.table, datetime.now(timezone.utc))
                        if not window.stateless:
                            refresh = refresh_for(spec, resource, sql, _reference_time(context), self.log)
            load_ids = list(load_info.loads_ids)
            self._lineage_written = record_written(pipeline, self.dataset_name, rows)  # OpenLineage
        requests_made = fetched + built.stats.total
        self.log.info(
            "Loaded `%s`: rows %s, load %s, %s, %.1fs",
            resource.name,
            rows or "{}",
            ",".join(load_ids) or "-",
            requests_text(built.stats.by_status, fetched),
            time.monotonic() - started,
        )
        summary = self._summary(resource, window, rows, load_ids, requests_made, built.stats.not_found_as_empty)
        if retained_since is not None:
            summary["served_since"] = retained_since  # the window starts before the API's retention
        if refresh is not None:
            summary["refresh"] = refresh.summary()
            summary["refresh_parents"] = refresh.parents()
        return summary

    def _summary(
        self,
        resource: ResourceSpec,
        window: Any,
        rows: dict[str, int],
        load_ids: list[str],
        requests_made: int,
        not_found_as_empty: int,
    ) -> dict[str, Any]:
        return {
            "resource": resource.name,
            "rows": rows,
            "load_ids": load_ids,
            "requests": requests_made,
            "not_found_as_empty": not_found_as_empty,
            "window": window.to_dict() if resource.incremental else None,
            "parent_keys": len(self.parent_keys or []),
        }


def _label_batch(context: Any, keys: list[dict[str, Any]]) -> None:
    """The mapped task's name in the UI (`map_index_template="{{ batch }}"`): its keys."""
    if hasattr(context, "__setitem__"):
        context["batch"] = batch_label(keys)


def _truthy(value: bool | str | None) -> bool:
    return value is True or str(value).strip().lower() in ("1", "true", "yes", "on")


def _forget_cursors(pipeline: Any, source: str) -> int:
    """Drop the incremental state of every resource of `source` (it is written back with the run)."""
    with pipeline.managed_state() as state:
        resources = state.get("sources", {}).get(source, {}).get("resources", {})
        forgotten = sum(1 for r in resources.values() if r.pop("incremental", None) is not None)
    return forgotten


def _slugs(value: str | list[str] | None) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value or []
    return tuple(s.strip() for s in items if s and s.strip())


def _reference_time(context: Any) -> datetime:
    """'Now' for a run: its data interval end when it has one (so reruns are reproducible), else the clock."""
    end = context.get("data_interval_end") if hasattr(context, "get") else None
    if end is None:
        return datetime.now(timezone.utc)
    return end if end.tzinfo else end.replace(tzinfo=timezone.utc)


def _mask(settings: ApiSettings) -> None:
    if not settings.api_key:
        return
    try:
        from airflow.sdk.log import mask_secret

        mask_secret(settings.api_key)
    except ImportError:  # pragma: no cover - older task SDKs
        pass
