"""The `refresh_views` task of the generated DAGs. Imported at DAG-parse time: imports no dlt."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def refresh_views_task(destination_conn_id: str | None, dataset_name: str) -> dict[str, Any]:
    """Create or replace the CI views (views/catalog.py) whose tables exist; returns what it did."""
    from airflow.sdk.exceptions import AirflowSkipException

    from analytics_provider.dlt_runtime import configure_dlt_environment
    from analytics_provider.views.dialects import DIALECTS
    from analytics_provider.views.refresh import refresh_views
    from analytics_provider.warehouse.destinations import resolve_destination

    kind = resolve_destination(destination_conn_id).kind
    if kind not in DIALECTS:  # the loads went fine: skip, do not fail the run
        raise AirflowSkipException(
            f"CI views are defined for {', '.join(sorted(DIALECTS))}, not for destination `{kind}`; "
            "set ANALYTICS_VIEWS=false to leave this task out"
        )
    configure_dlt_environment()
    return refresh_views(destination_conn_id, dataset_name, logger=log)


def add_refresh_task(dag: Any, destination_conn_id: str | None, dataset_name: str) -> Any:
    """Append `refresh_views` to `dag` (call inside its `with DAG` block), after every task that has
    no downstream task, i.e. after every load. It runs when none of them failed (skips are fine): a
    failed load fails the run instead of being hidden behind a successful last task."""
    from airflow.sdk import task

    leaves = [t for t in dag.tasks if not t.downstream_task_ids]
    refresh = task(
        task_id="refresh_views",
        trigger_rule="none_failed",
        doc_md="Create or replace the CI views (README, *CI views*) whose tables exist in the dataset.",
    )(refresh_views_task)(destination_conn_id=destination_conn_id, dataset_name=dataset_name)
    for leaf in leaves:
        leaf >> refresh
    return refresh
