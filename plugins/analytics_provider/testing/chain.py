"""Run spec resources in-process, parents before children, the way the generated DAGs do.

For tests, benchmarks and local development: no scheduler, no metadata DB; connections resolve
from `AIRFLOW_CONN_*` environment variables. The tasks are the DAG factory's, with the keys read
the same way (`plan_batches`, or the load task itself from its parent's summary).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from airflow.sdk.exceptions import AirflowSkipException

from analytics_provider.config.loader import load_spec
from analytics_provider.dag_plan import DagPlan, task_plan
from analytics_provider.fanout.batching import plan_batches
from analytics_provider.operators.load import AnalyticsLoadOperator


def task_context(
    interval_start: datetime | None = None, interval_end: datetime | None = None, run_type: str = "scheduled"
) -> dict[str, Any]:
    """The part of an Airflow context the operator reads."""
    context: dict[str, Any] = {"dag_run": SimpleNamespace(run_type=run_type)}
    if interval_start is not None:
        context["data_interval_start"] = interval_start
        context["data_interval_end"] = interval_end
    return context


def run_chain(
    resources: Iterable[str],
    context: dict[str, Any] | None = None,
    spec_path: str | None = None,
    **operator_kwargs: Any,
) -> dict[str, list[dict[str, Any]]]:
    """Load `resources` (parents first) the way the generated DAG would: roots, incremental children
    reading every key of their parent, and each fan-out's batches one after the other, a batch's
    subtree right after it (its tasks reading keys from the same batch's parent). Returns each
    resource's summaries (one per batch for a mapped child; none for a skipped task)."""
    names = list(resources)
    spec = load_spec(spec_path)
    for name in names:
        parent = spec.resource(name).parent
        fetched = spec.resource(name).fetch_parent  # reads its parent's rows from the API itself
        if parent is not None and not fetched and parent not in names[: names.index(name)]:
            raise ValueError(f"`{name}` needs its parent `{parent}` earlier in the list")
    plan = DagPlan("chain", "", "", tuple(task_plan(spec.resource(name)) for name in names))
    context = context if context is not None else task_context()
    fan_outs = plan.fan_outs()
    outputs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}

    def run(name: str, index: int, **source: Any) -> dict[str, Any] | None:
        op = AnalyticsLoadOperator(
            task_id=f"{name}_{index}", resource=name, spec_path=spec_path, **source, **operator_kwargs
        )
        try:
            summary = op.execute(context)
        except AirflowSkipException:
            return None
        outputs[name].append(summary)
        return summary

    for t in plan.tasks:
        if t.shape in ("root", "fetches_parent"):
            run(t.resource, 0)
        elif t.shape == "reads_parent_output":
            run(t.resource, 0, parent_output=outputs[t.parent or ""])
        elif t.resource in fan_outs:  # `batched`, the top of a fan-out (the rest run inside it)
            batches = plan_batches(
                outputs[t.parent],
                child=t.resource,
                batch_size=t.batch_size or 0,
                spec_path=spec_path,
                destination_conn_id=operator_kwargs.get("destination_conn_id"),
                dataset_name=operator_kwargs.get("dataset_name", "analytics"),
            )
            for index, keys in enumerate(batches):
                done = {t.resource: run(t.resource, index, parent_keys=keys)}
                for below in fan_outs[t.resource][1:]:
                    parent_output = done.get(below.parent or "")
                    done[below.resource] = (
                        run(below.resource, index, parent_output=parent_output) if parent_output else None
                    )
    return outputs
