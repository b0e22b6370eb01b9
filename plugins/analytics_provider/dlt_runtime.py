"""dlt settings the provider needs in every task process, applied before dlt is imported."""

from __future__ import annotations

import logging
import os

DLT_DEFAULTS = {
    # dlt would look up every setting as an Airflow Variable: thousands of 404s over the task API
    "PROVIDERS__ENABLE_AIRFLOW_SECRETS": "false",
    # no network but the API's and the destination's
    "RUNTIME__DLTHUB_TELEMETRY": "false",
    # dlt's own handler writes to stderr, which Airflow logs as ERROR; we log the summary ourselves
    "RUNTIME__LOG_LEVEL": "WARNING",
}


def configure_dlt_environment() -> None:
    """Set dlt's defaults (an explicit environment value wins) and route dlt's log through ours."""
    for key, value in DLT_DEFAULTS.items():
        os.environ.setdefault(key, value)


def route_dlt_logging() -> None:
    """Make dlt's warnings reach the task log at their own level instead of as stderr ERROR lines:
    drop dlt's stderr handler and let records propagate to the handlers Airflow installed."""
    dlt_logger = logging.getLogger("dlt")
    for handler in list(dlt_logger.handlers):
        dlt_logger.removeHandler(handler)
    dlt_logger.propagate = True
    dlt_logger.setLevel(logging.WARNING)
