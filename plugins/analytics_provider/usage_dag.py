"""The `analytics_usage` DAG: credit usage per org, one deferrable export task a day.

Its window is the run's data interval (a day; backfills work as for the other DAGs), or the
trigger form's `start`/`end`; `orgs` takes org ids. `ANALYTICS_USAGE_POLL_SECONDS` sets how often
the trigger reads the export's status (default 60: the API allows 10 reads a minute per org).
"""

from __future__ import annotations

import os
from datetime import timedelta

from airflow.sdk import DAG, Asset, Param

from analytics_provider.dag_factory import FactoryConfig

DAG_ID = "analytics_usage"
SCHEDULE = "0 4 * * *"


def build_usage_dag(config: FactoryConfig | None = None) -> DAG:
    from airflow.timetables.interval import CronDataIntervalTimetable

    from analytics_provider.operators.usage_export import AnalyticsUsageExportOperator

    config = config or FactoryConfig.from_env()
    with DAG(
        dag_id=DAG_ID,
        schedule=CronDataIntervalTimetable(SCHEDULE, timezone="UTC"),
        start_date=config.start_date,
        catchup=False,
        max_active_runs=1,
        tags=[*config.tags, "usage"],
        description="Credit usage per org through the usage export job (deferrable).",
        doc_md=__doc__,
        default_args={"retries": config.retries, "retry_delay": config.retry_delay},
        params={
            "start": Param(
                None, type=["null", "string"], description="Window start (ISO 8601); default: data interval."
            ),
            "end": Param(None, type=["null", "string"], description="Window end (ISO 8601), exclusive."),
            "orgs": Param(None, type=["null", "string"], description="Comma-separated org ids; empty: every org."),
        },
    ) as dag:
        AnalyticsUsageExportOperator(
            task_id="usage",
            analytics_conn_id=config.analytics_conn_id,
            destination_conn_id=config.destination_conn_id,
            dataset_name=config.dataset_name,
            start="{{ params.start or '' }}",
            end="{{ params.end or '' }}",
            org_ids="{{ params.orgs or '' }}",
            poll_interval=float(os.environ.get("ANALYTICS_USAGE_POLL_SECONDS", "60")),
            export_timeout=timedelta(hours=4),
            outlets=[Asset(name=f"{config.dataset_name}.usage", uri=f"analytics://{config.dataset_name}/usage")],
            **({"pool": config.pool} if config.pool else {}),
        )
    return dag
