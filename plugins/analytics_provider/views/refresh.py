"""Create or replace the CI views in a dataset: each view whose tables and columns exist."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from analytics_provider.views.catalog import VIEWS, ViewDef
from analytics_provider.views.dialects import Dialect, dialect_for

log = logging.getLogger(__name__)


def refresh_views(
    destination_conn_id: str | None, dataset: str, views: Iterable[ViewDef] = VIEWS, logger: Any = None
) -> dict[str, Any]:
    """Replace every view of `views` whose inputs exist in `dataset`; drop those whose inputs are gone.
    Returns `{"created": [...], "skipped": {view: [missing table or table.column]}}`."""
    from analytics_provider.warehouse.destinations import open_sql, resolve_destination

    logger = logger or log
    dialect = dialect_for(resolve_destination(destination_conn_id).kind)
    created: list[str] = []
    skipped: dict[str, list[str]] = {}
    with open_sql(destination_conn_id, dataset) as sql:
        columns = _columns(sql, dataset)
        existing = _views(sql, dataset)
        for view in views:
            missing = view.missing(columns)
            if missing:
                skipped[view.name] = missing
                if view.name in existing:
                    sql.execute_sql(f"DROP VIEW {_qualified(dialect, dataset, view.name)}")
                logger.info("View `%s.%s` not created: the dataset has no %s", dataset, view.name, ", ".join(missing))
                continue
            _replace(sql, dialect, dataset, view, view.name in existing)
            created.append(view.name)
    logger.info("Views refreshed in `%s`: %s", dataset, ", ".join(created) or "none")
    return {"created": created, "skipped": skipped}


def view_sql(view: ViewDef, dialect: Dialect, dataset: str) -> str:
    """The view's SELECT for `dialect`, its tables qualified with `dataset`."""
    return view.build(dialect, lambda table: _qualified(dialect, dataset, table)).strip()


def _replace(sql: Any, dialect: Dialect, dataset: str, view: ViewDef, exists: bool) -> None:
    name = _qualified(dialect, dataset, view.name)
    with sql.begin_transaction():
        if exists:  # not CREATE OR REPLACE: PostgreSQL refuses it when the columns change
            sql.execute_sql(f"DROP VIEW {name}")
        sql.execute_sql(f"CREATE VIEW {name} AS {view_sql(view, dialect, dataset)}")
        if dialect.name == "postgres":
            sql.execute_sql(f"COMMENT ON VIEW {name} IS %s", view.description)


def _qualified(dialect: Dialect, dataset: str, name: str) -> str:
    return f"{dialect.quote(dataset)}.{dialect.quote(name)}"


def _columns(sql: Any, dataset: str) -> dict[str, set[str]]:
    rows = sql.execute_sql(
        "SELECT c.table_name, c.column_name FROM information_schema.columns c"
        " JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name"
        " WHERE c.table_schema = %s AND t.table_type = 'BASE TABLE'",
        dataset,
    )
    out: dict[str, set[str]] = {}
    for table, column in rows or []:
        out.setdefault(table, set()).add(column)
    return out


def _views(sql: Any, dataset: str) -> set[str]:
    rows = sql.execute_sql(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s AND table_type = 'VIEW'", dataset
    )
    return {r[0] for r in rows or []}
