"""dlt settings the provider needs in every task process, applied before dlt is imported."""

from __future__ import annotations

import logging
import os
from typing import Any

DLT_DEFAULTS = {
    # dlt would look up every setting as an Airflow Variable: thousands of 404s over the task API
    "PROVIDERS__ENABLE_AIRFLOW_SECRETS": "false",
    # no network but the API's and the destination's
    "RUNTIME__DLTHUB_TELEMETRY": "false",
    # dlt's own handler writes to stderr, which Airflow logs as ERROR; we log the summary ourselves
    "RUNTIME__LOG_LEVEL": "WARNING",
    # threads of a child's extract: the most requests a task keeps in flight. How many it keeps is
    # the request gate's (throttle.py): 2, and more only while the API's counts say its rate limit
    # is plainly unused, or (an API that sends none) while nothing is refused. A fixed dlt default
    # of 5 threads a task, with 4 slots, drew 429 storms that failed tasks (bench/fanout.py); with
    # the gate, 8 keep a first load's tasks busy against an unlimited API
    # (bench/first_load_airflow.py)
    "EXTRACT__WORKERS": "8",
    # dlt gzips its intermediate files, which live in the task's temp dir and are deleted after
    # the load: CPU for nothing (bench/throughput.py)
    "DATA_WRITER__DISABLE_COMPRESSION": "true",
    # the extract's files of a table hold 50k rows each (dlt reads `[sources.data_writer]` in
    # extract only), so `NORMALIZE__WORKERS=2` can share a big table between processes; with dlt's
    # default of one file a table, one worker got it all (bench/throughput.py, `operator best`)
    "SOURCES__DATA_WRITER__FILE_MAX_ITEMS": "50000",
}


MIN_PARALLEL_REQUESTS = 2
"""Requests a child's task keeps in flight at the start and after a 429."""


def parallel_requests() -> tuple[int, int]:
    """(floor, ceiling) of the requests a task keeps in flight: the ceiling is the extract's threads
    (`EXTRACT__WORKERS`), the floor `MIN_PARALLEL_REQUESTS` or fewer."""
    try:
        ceiling = max(1, int(os.environ.get("EXTRACT__WORKERS") or DLT_DEFAULTS["EXTRACT__WORKERS"]))
    except ValueError:
        ceiling = int(DLT_DEFAULTS["EXTRACT__WORKERS"])
    return min(MIN_PARALLEL_REQUESTS, ceiling), ceiling


def configure_dlt_environment() -> None:
    """Set dlt's defaults (an explicit environment value wins) and route dlt's log through ours."""
    for key, value in DLT_DEFAULTS.items():
        os.environ.setdefault(key, value)


class _ForwardToTaskLog(logging.Handler):
    """Hands dlt's records to the task logger at their own level."""

    def __init__(self, target: Any) -> None:
        super().__init__(logging.WARNING)
        self.target = target

    def emit(self, record: logging.LogRecord) -> None:
        try:
            log = getattr(self.target, record.levelname.lower(), None) or self.target.warning
            log("dlt: %s", record.getMessage())
        except Exception:  # never fail a load because a log line could not be written
            self.handleError(record)


def route_dlt_logging(target: Any) -> None:
    """Send dlt's log to `target` (the task logger). dlt's own handler writes to stderr, which Airflow
    3 records as ERROR lines; dlt keeps the first handler it finds on its logger, so ours stays."""
    dlt_logger = logging.getLogger("dlt")
    for handler in list(dlt_logger.handlers):
        dlt_logger.removeHandler(handler)
    dlt_logger.addHandler(_ForwardToTaskLog(target))
    dlt_logger.propagate = False
