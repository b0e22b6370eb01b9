"""The load operator: one spec resource (optionally one batch of parent keys) through dlt into a destination."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from analytics_provider.config.loader import load_spec
from analytics_provider.config.model import Spec
from analytics_provider.exceptions import AnalyticsApiError, AnalyticsAuthError
from analytics_provider.hooks.analytics_api import AnalyticsApiHook, ApiSettings
from analytics_provider.operators.arguments import mask_key, slugs, truthy
from analytics_provider.operators.failures import translate_failure
from analytics_provider.operators.lineage import LineageMixin, api_inputs

if TYPE_CHECKING:
    from analytics_provider.dlt_source.builder import SourceArgs
    from analytics_provider.operators.task import LoadTask
    from analytics_provider.warehouse.destinations import DestinationTarget


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
        name = spec.resource(self.resource).for_api(settings.api_version).name
        try:
            return self._resolve_and_run(context, spec, hook, settings)
        except AnalyticsAuthError as exc:
            error: BaseException = AirflowFailException(str(exc))
        except (AnalyticsApiError, AirflowSkipException):
            raise
        except Exception as exc:
            error = translate_failure(exc, name, settings.redact)
        # raised outside the except blocks, so no __context__ carries dlt's original texts along
        raise error

    def _resolve_and_run(
        self, context: Any, spec: Spec, hook: AnalyticsApiHook, settings: ApiSettings
    ) -> dict[str, Any]:
        """What the task works on, resolved once (the resource, its window, the destination, the
        API's session), then the work (`_run`)."""
        from analytics_provider.dlt_runtime import route_dlt_logging
        from analytics_provider.dlt_source.builder import SourceArgs
        from analytics_provider.operators.task import resolve_load_task
        from analytics_provider.warehouse.destinations import resolve_destination

        route_dlt_logging(self.log)
        task = resolve_load_task(
            spec, self.resource, settings.api_version, context, start=self.start, end=self.end, log=self.log
        )
        self._lineage_inputs = api_inputs(settings.base_url, spec, task.resource)  # OpenLineage
        target = resolve_destination(self.destination_conn_id)
        api = SourceArgs(  # what the dlt source of this resource (and of a fetched parent) is built with
            settings=settings,
            session=hook.get_conn(spec.client.error_handler),
            client=spec.client,
            dataset=self.dataset_name,
            org_slugs=slugs(self.org_slugs) or settings.org_slugs,
        )
        return self._run(context, task, api, target)

    def _run(self, context: Any, task: LoadTask, api: SourceArgs, target: DestinationTarget) -> dict[str, Any]:
        """The task's steps: its keys, the SQL its load must run for its children, the load."""
        from analytics_provider.dlt_source.run import RunOptions, load_resource, load_summary
        from analytics_provider.fanout.refresh import after_parent_load
        from analytics_provider.fanout.task_keys import resolve_task_keys

        keys = resolve_task_keys(
            task.resource,
            task.parent,
            task.fetched,
            self.parent_keys,
            self.parent_output,
            context,
            api=api,
            window=task.window,
            reading=lambda: target.reading(self.dataset_name),
        )
        if keys.label is not None and hasattr(context, "__setitem__"):
            context["batch"] = keys.label  # the mapped task's name in the UI
        if keys.nothing_because:
            raise AirflowSkipException(keys.nothing_because)
        after_load = after_parent_load(task.resource, task.has_children, task.reference, self.log)
        if keys.keys is not None and not keys.keys:
            self.log.info("Resource `%s`: no parent keys in this batch; nothing to load.", task.resource.name)
            return load_summary(task.resource, task.window, keys.keys)
        loaded = load_resource(
            task.resource,
            task.window,
            keys.keys,
            records=task.records,
            api=api,
            target=target,
            options=RunOptions(self.loader_file_format, self.strict_schema, truthy(self.full_refresh)),
            after_load=after_load,
            fetched_requests=keys.fetched_requests,
            log=self.log,
        )
        self._lineage_written = loaded.written  # OpenLineage
        if task.served_since is not None:
            loaded.summary["served_since"] = task.served_since  # the window starts before the API's retention
        return loaded.summary
