"""The `refresh_views` task of the generated DAGs. Imported at DAG-parse time: imports no dlt."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def refresh_views_task(destination_conn_id: str | None, dataset_name: str) -> dict[str, Any]:
    """Create or replace the CI views (views/catalog.py) whose tables exist; returns what it did."""
    from analytics_provider.dlt_runtime import configure_dlt_environment
    from analytics_provider.views.refresh import refresh_views

    configure_dlt_environment()
    return refresh_views(destination_conn_id, dataset_name, logger=log)
