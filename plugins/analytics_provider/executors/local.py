"""A LocalExecutor whose task processes start with dlt already imported.

Each task instance runs in a process forked from one of the executor's workers, and the workers are
forked from the scheduler. A load task imports dlt, its REST source and DuckDB first: about half a
second of CPU in every task, paid again by each of a first load's dozens of tasks while they compete
for the same cores. Imported once in the scheduler before the workers fork, they are in every
task's memory from the start (copy-on-write), and the import is free.

Use it as `AIRFLOW__CORE__EXECUTOR=analytics_provider.executors.local.AnalyticsLocalExecutor`; it is
the LocalExecutor in every other respect.
"""

from __future__ import annotations

import importlib
import logging

from airflow.executors.local_executor import LocalExecutor

log = logging.getLogger(__name__)

PRELOADED = (
    "dlt",
    "dlt.sources.rest_api",
    "dlt.destinations.impl.duckdb.duck",
    "duckdb",
    "analytics_provider.operators.load",
    "analytics_provider.dlt_source.builder",
    "analytics_provider.dlt_source.run",
)
"""What a load task imports before its first request, in import order."""


def preload() -> None:
    """Import what every load task needs, with the provider's dlt settings applied first (so dlt reads
    them as each task would). A module that fails to import is left to the task, which reports it."""
    from analytics_provider.dlt_runtime import configure_dlt_environment

    configure_dlt_environment()
    for name in PRELOADED:
        try:
            importlib.import_module(name)
        except Exception:  # the task imports it again and fails with the real error
            log.warning("Could not preload %s for the task processes", name, exc_info=True)


class AnalyticsLocalExecutor(LocalExecutor):
    """LocalExecutor whose workers (and so every task process) fork with dlt imported."""

    def start(self) -> None:
        preload()
        super().start()
