"""Run spec resources in-process, parents before children, the way the generated DAGs do.

For tests, benchmarks and local development: no scheduler, no metadata DB; connections resolve
from `AIRFLOW_CONN_*` environment variables. Children get their parents' keys through the same
`plan_batches` the DAGs use (read from the destination the parents loaded into).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from analytics_provider.batching import plan_batches
from analytics_provider.operators.load import AnalyticsLoadOperator
from analytics_provider.spec.loader import load_spec


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
    """Load `resources` in the given order (parents first); returns each resource's summaries
    (one per batch for a child)."""
    spec = load_spec(spec_path)
    context = context if context is not None else task_context()
    outputs: dict[str, list[dict[str, Any]]] = {}
    for name in resources:
        resource = spec.resource(name)
        if resource.parent is None:
            batches: list[Any] = [None]
        else:
            if resource.parent not in outputs:
                raise ValueError(f"`{name}` needs its parent `{resource.parent}` earlier in the list")
            size = 0 if resource.incremental else resource.batch_size
            batches = plan_batches(
                outputs[resource.parent],
                child=name,
                batch_size=size,
                spec_path=spec_path,
                destination_conn_id=operator_kwargs.get("destination_conn_id"),
                dataset_name=operator_kwargs.get("dataset_name", "analytics"),
            )
        outputs[name] = []
        for index, keys in enumerate(batches):
            op = AnalyticsLoadOperator(
                task_id=f"{name}_{index}", resource=name, parent_keys=keys, spec_path=spec_path, **operator_kwargs
            )
            outputs[name].append(op.execute(context))
    return outputs
