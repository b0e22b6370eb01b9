"""The load operator: one spec resource (optionally one batch of parent keys) through dlt into a destination."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from analytics_provider.config.loader import load_spec
from analytics_provider.config.model import ResourceSpec, Spec
from analytics_provider.exceptions import AnalyticsApiError, AnalyticsAuthError
from analytics_provider.hooks.analytics_api import AnalyticsApiHook, ApiSettings
from analytics_provider.operators.arguments import mask_key, slugs, truthy
from analytics_provider.operators.failures import translate_failure
from analytics_provider.operators.lineage import LineageMixin, api_inputs, record_written
from analytics_provider.operators.wording import batch_label, requests_text

if TYPE_CHECKING:
    from analytics_provider.fanout.task_keys import TaskKeys
    from analytics_provider.warehouse.destinations import DestinationTarget
    from analytics_provider.window import LoadWindow


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
        mask_key(settings)
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
        """The task's steps: window, destination, keys, then the load (`_load`)."""
        from analytics_provider.dlt_runtime import route_dlt_logging
        from analytics_provider.fanout.task_keys import resolve_task_keys
        from analytics_provider.warehouse.destinations import resolve_destination
        from analytics_provider.window import past_retention

        route_dlt_logging(self.log)
        self._lineage_inputs = api_inputs(settings.base_url, spec, resource)  # OpenLineage
        window = self._window(context, resource)
        retained_since = past_retention(resource, window, self.log)
        target = resolve_destination(self.destination_conn_id)
        source_args = {  # what the dlt source of this resource (and of a fetched parent) is built with
            "settings": settings,
            "session": hook.get_conn(spec.client.error_handler),
            "dataset": self.dataset_name,
            "window": window,
            "org_slugs": slugs(self.org_slugs) or settings.org_slugs,
        }
        task_keys = resolve_task_keys(spec, resource, self.parent_keys, self.parent_output, context, source_args)
        if task_keys.nothing_because:
            _label_batch(context, [])
            raise AirflowSkipException(task_keys.nothing_because)
        self.parent_keys = task_keys.keys
        if resource.parent is not None and task_keys.loads is None and not task_keys.fetched and not self.parent_keys:
            self.log.info("Resource `%s`: no parent keys in this batch; nothing to load.", resource.name)
            _label_batch(context, [])
            return self._summary(resource, window, {}, [], 0, 0)
        summary = self._load(context, spec, resource, target, task_keys, source_args)
        if retained_since is not None:
            summary["served_since"] = retained_since  # the window starts before the API's retention
        return summary

    def _window(self, context: Any, resource: ResourceSpec) -> LoadWindow:
        from analytics_provider.window import resolve_window

        initial = resource.incremental.initial_lookback if resource.incremental else None
        return resolve_window(
            context, start=self.start, end=self.end, **({"initial_lookback": initial} if initial else {})
        )

    def _load(
        self,
        context: Any,
        spec: Spec,
        resource: ResourceSpec,
        target: DestinationTarget,
        task_keys: TaskKeys,
        source_args: dict[str, Any],
    ) -> dict[str, Any]:
        """Keys read under the lock, the source built on the restored state, one dlt run, the summary."""
        import dlt

        from analytics_provider.dlt_source.builder import build_source, source_name
        from analytics_provider.fanout.refresh import after_parent_load
        from analytics_provider.fanout.task_keys import read_recorded
        from analytics_provider.warehouse.pipeline_run import forget_cursors, run_pipeline

        window = source_args["window"]
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="analytics_dlt_") as workdir:
            pipeline = dlt.pipeline(
                pipeline_name=f"{self.dataset_name}__{resource.name}" + ("__window" if window.stateless else ""),
                destination=target.factory(),
                dataset_name=self.dataset_name,
                pipelines_dir=workdir,
            )
            with target.holding(self.dataset_name, pipeline):
                pipeline.sync_destination()
                if task_keys.loads is not None:
                    with pipeline.sql_client() as sql:  # under the lock, like every read of the destination
                        self.parent_keys = read_recorded(sql, spec, resource, task_keys)
            self._check_keys(context, resource)
            self._log_start(resource, target, window)
            if truthy(self.full_refresh) and resource.incremental and not window.stateless:
                forgotten = forget_cursors(pipeline, source_name(self.dataset_name, resource.name))
                self.log.info("Full refresh of `%s`: forgot %d stored cursors", resource.name, forgotten)
            built = build_source(
                spec, resource, parent_keys=self.parent_keys, state=dict(pipeline.state), **source_args
            )
            result = run_pipeline(
                pipeline,
                built.source,
                target=target,
                dataset=self.dataset_name,
                file_format=self.loader_file_format,
                strict_schema=self.strict_schema,
                after_load=after_parent_load(spec, resource, window, context, self.log),
                describe=lambda s: self.log.info(
                    "Extracted `%s`: %d requests in %.1fs", resource.name, built.stats.total, s
                ),
            )
            self._lineage_written = record_written(pipeline, self.dataset_name, result.rows)  # OpenLineage
        return self._loaded_summary(resource, window, built, result, task_keys.fetched_requests, started)

    def _loaded_summary(
        self, resource: ResourceSpec, window: LoadWindow, built: Any, result: Any, fetched: int, started: float
    ) -> dict[str, Any]:
        """The task log's last line and the XCom summary of a load."""
        self.log.info(
            "Loaded `%s`: rows %s, load %s, %s, %.1fs",
            resource.name,
            result.rows or "{}",
            ",".join(result.load_ids) or "-",
            requests_text(built.stats.by_status, fetched),
            time.monotonic() - started,
        )
        requests_made = fetched + built.stats.total
        summary = self._summary(
            resource, window, result.rows, result.load_ids, requests_made, built.stats.not_found_as_empty
        )
        refresh = result.after_load
        if refresh is not None:
            summary["refresh"] = refresh.summary()
            summary["refresh_parents"] = refresh.parents()
        return summary

    def _check_keys(self, context: Any, resource: ResourceSpec) -> None:
        """A child's task is named after its keys in the UI, and skipped when it has none."""
        if resource.parent is None:
            return
        _label_batch(context, self.parent_keys or [])
        if not self.parent_keys:
            where = "the API listed" if resource.fetch_parent else "loaded"
            raise AirflowSkipException(f"no `{resource.name}` keys in what `{resource.parent}` {where}")

    def _log_start(self, resource: ResourceSpec, target: DestinationTarget, window: LoadWindow) -> None:
        self.log.info(
            "Loading `%s` (%s%s) into %s, dataset `%s`, window %s",
            resource.name,
            resource.endpoint.path,
            f", {len(self.parent_keys or [])} parent keys" if resource.parent else "",
            target.display,
            self.dataset_name,
            window.describe() if resource.incremental else "n/a (full read)",
        )

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
