"""Spec -> Airflow DAGs. Rendering only: imports neither dlt nor requests, touches no network.

Each spec DAG becomes one Airflow DAG with one load task per resource. A child's keys are what
its parent's loads recorded in the destination (child_keys.py), and children are fanned out by
dynamic task mapping:

- a child of a task that is not mapped gets a small `plan_<child>` task that reads those keys
  and cuts them into batches; the child's load task is mapped over the batches, one mapped task
  per batch, so a day with thousands of parents stays far below `max_map_length`;
- when that child has children of its own, the whole subtree is one mapped task group
  (`<child>_batches`) over the batches: in each group instance, every task reads its keys from
  the same instance's parent (`parent_output`). A batch's children start as soon as that batch's
  parent is loaded, not when the whole level is: levels overlap, and no level waits for the
  slowest batch of the one above;
- an incremental child (pipelines per org) is one task reading every key itself, after every
  batch of its parent when that is mapped, because its cursor state must have a single writer;
  with `fetch_parent` (pipelines) it reads its parent's rows from the API itself and is a root of
  the DAG, so the fan-out below it does not wait for the parent's task.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk import DAG, Asset, Param, task, task_group

from analytics_provider.config.loader import SCHEDULE_PRESETS, load_spec
from analytics_provider.dag_plan import DagPlan, TaskPlan, render_plans
from analytics_provider.fanout.batching import plan_batch_refs
from analytics_provider.operators.load import AnalyticsLoadOperator
from analytics_provider.views.task import add_refresh_task

DEFAULT_POOL = "analytics_api"


@dataclass(frozen=True)
class FactoryConfig:
    """Deployment settings, from `ANALYTICS_*` environment variables by default."""

    spec_path: str | None = None
    analytics_conn_id: str = "analytics_api_default"
    destination_conn_id: str | None = None
    dataset_name: str = "analytics"
    pool: str | None = DEFAULT_POOL
    pool_slots: int = 4
    """Slots of `pool`: a fan-out with the keys for it is cut into at least this many groups."""
    strict_schema: bool = False
    retries: int = 2
    retry_delay: timedelta = timedelta(minutes=1)
    start_date: datetime = datetime(2026, 1, 1, tzinfo=timezone.utc)
    tags: tuple[str, ...] = ("analytics", "dlt")
    views: bool = True
    """A `refresh_views` task after the loads (views/); `ANALYTICS_VIEWS=false` leaves it out."""

    @classmethod
    def from_env(cls) -> FactoryConfig:
        env = os.environ
        return cls(
            spec_path=env.get("ANALYTICS_SPEC_PATH") or None,
            analytics_conn_id=env.get("ANALYTICS_CONN_ID", "analytics_api_default"),
            destination_conn_id=env.get("ANALYTICS_DESTINATION_CONN_ID") or None,
            dataset_name=env.get("ANALYTICS_DATASET", "analytics"),
            pool=env.get("ANALYTICS_POOL", DEFAULT_POOL) or None,
            pool_slots=int(env.get("ANALYTICS_POOL_SLOTS") or 4),
            strict_schema=env.get("ANALYTICS_STRICT_SCHEMA", "").lower() in ("1", "true", "yes"),
            retries=int(env.get("ANALYTICS_TASK_RETRIES", "2")),
            retry_delay=timedelta(seconds=float(env.get("ANALYTICS_RETRY_DELAY_SECONDS", "60"))),
            views=env.get("ANALYTICS_VIEWS", "true").lower() not in ("0", "false", "no", "off"),
        )


def _keys_from(t: TaskPlan) -> str:
    if t.fetches:
        return f"`{t.fetches}`, read by the task itself"
    return f"`{t.parent}`" if t.parent else "schedule"


def timetable_for(schedule: str) -> Any:
    """A timetable with real data intervals (a bare cron string would give zero-length ones)."""
    from airflow.timetables.interval import CronDataIntervalTimetable, DeltaDataIntervalTimetable

    if schedule.startswith("every "):  # e.g. "every 15m"
        from analytics_provider.config.loader import parse_duration

        return DeltaDataIntervalTimetable(parse_duration(schedule.removeprefix("every ")))
    return CronDataIntervalTimetable(SCHEDULE_PRESETS.get(schedule, schedule), timezone="UTC")


def table_asset(dataset: str, table: str) -> Asset:
    """The Asset a load task updates (its outlet) and an asset-aware DAG is scheduled on."""
    return Asset(name=f"{dataset}.{table}", uri=f"analytics://{dataset}/{table}")


def build_dag(plan: DagPlan, config: FactoryConfig) -> DAG:
    doc = [f"### {plan.dag_id}", plan.description, "", "| task | loads table | keys from |", "|---|---|---|"]
    doc += [f"| `{t.resource}` | `{config.dataset_name}.{t.table}` | {_keys_from(t)} |" for t in plan.tasks]
    with DAG(
        dag_id=plan.dag_id,
        schedule=[table_asset(config.dataset_name, t) for t in plan.assets]
        if plan.assets
        else timetable_for(plan.schedule),
        start_date=config.start_date,
        catchup=False,
        max_active_runs=1,
        tags=list(config.tags),
        doc_md="\n".join(doc),
        description=plan.description[:200] or None,
        default_args={"retries": config.retries, "retry_delay": config.retry_delay},
        params={
            "start": Param(
                None,
                type=["null", "string"],
                description="Window start (ISO 8601). With `end`: load exactly [start, end) and leave the "
                "stored cursor alone. Empty: continue from the stored cursor.",
            ),
            "end": Param(None, type=["null", "string"], description="Window end (ISO 8601); default now."),
            "full_refresh": Param(
                False,
                type="boolean",
                description="Forget the stored cursor: re-read `pipelines` from `start` (or the run's data "
                "interval start) and continue from there. Rows are merged; nothing is deleted.",
            ),
            "orgs": Param(
                None,
                type=["null", "string"],
                description="Comma-separated org slugs to load (`gh/acme,circleci/<uuid>`); empty: the "
                "connection's `org_slugs`, or every org of the API key.",
            ),
        },
    ) as dag:
        loads: dict[str, Any] = {}
        fan_outs = plan.fan_outs()
        in_fan_out = {t.resource for subtree in fan_outs.values() for t in subtree}
        for t in plan.tasks:
            if t.resource in fan_outs:
                keys = task(task_id=f"plan_{t.resource}")(plan_batch_refs)(
                    loads[t.parent].output,
                    child=t.resource,
                    batch_size=t.batch_size or 0,
                    min_batches=config.pool_slots,
                    spec_path=config.spec_path,
                    destination_conn_id=config.destination_conn_id,
                    dataset_name=config.dataset_name,
                )
                loads.update(_fan_out(fan_outs[t.resource], keys, config))
            elif t.resource not in in_fan_out:
                source: dict[str, Any] = {}
                if t.reads_keys_itself:
                    source["parent_output"] = loads[t.parent].output
                    if t.parent in in_fan_out:
                        # a batch of the mapped parent that had nothing to load was skipped: the
                        # other batches' keys are still to be loaded (it skips itself on none)
                        source["trigger_rule"] = "none_failed"
                loads[t.resource] = AnalyticsLoadOperator(**source, **_load_args(t, config))
        if config.views:
            add_refresh_task(dag, config.destination_conn_id, config.dataset_name)
    return dag


def _fan_out(subtree: list[TaskPlan], keys: Any, config: FactoryConfig) -> dict[str, Any]:
    """The load tasks of `subtree`, mapped over `keys` (a plan task's batches): one mapped task for a
    lone child, else one mapped task group whose instances each load one batch and its subtree."""
    top = subtree[0]
    mapped = {"map_index_template": "{{ batch }}"}
    if len(subtree) == 1:
        return {
            top.resource: AnalyticsLoadOperator.partial(**mapped, **_load_args(top, config)).expand(parent_keys=keys)
        }
    loads: dict[str, Any] = {}

    def one_batch(batch: Any) -> None:
        for t in subtree:
            source = {"parent_keys": batch} if t is top else {"parent_output": loads[t.parent].output}
            loads[t.resource] = AnalyticsLoadOperator(**mapped, **source, **_load_args(t, config))

    task_group(group_id=f"{top.resource}_batches", tooltip=f"`{top.resource}` and below, per batch of `{top.parent}`")(
        one_batch
    ).expand(batch=keys)
    return loads


def _load_args(t: TaskPlan, config: FactoryConfig) -> dict[str, Any]:
    return {
        "task_id": t.resource,
        "resource": t.resource,
        "spec_path": config.spec_path,
        "analytics_conn_id": config.analytics_conn_id,
        "destination_conn_id": config.destination_conn_id,
        "dataset_name": config.dataset_name,
        "strict_schema": config.strict_schema,
        "start": "{{ params.start or '' }}",
        "end": "{{ params.end or '' }}",
        "org_slugs": "{{ params.orgs or '' }}",
        "full_refresh": "{{ params.full_refresh }}",
        "outlets": [table_asset(config.dataset_name, t.table)],
        "doc_md": t.doc or None,
        **({"pool": config.pool} if config.pool else {}),
    }


def build_dags(config: FactoryConfig | None = None) -> dict[str, DAG]:
    """All DAGs of the spec, keyed by dag_id (assign them into a DAG file's globals)."""
    config = config or FactoryConfig.from_env()
    spec = load_spec(config.spec_path)
    return {plan.dag_id: build_dag(plan, config) for plan in render_plans(spec)}
