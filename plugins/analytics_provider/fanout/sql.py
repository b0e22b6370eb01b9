"""The SQL the fan-out and the refresh need of the destination, through dlt's SQL client: rows of a
query (none while its table does not exist yet), a table's columns, which keys are already loaded."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def is_missing_table(exc: BaseException) -> bool:
    """Whether a query failed because its table is not there yet (a first load)."""
    text = str(exc).lower()
    return "not exist" in text or "not found" in text or "undefined" in text


def query_rows(sql: Any, query: str, *args: Any) -> list[tuple[Any, ...]]:
    """The rows of `query`; none when its table does not exist yet."""
    try:
        return list(sql.execute_sql(query, *args) or [])
    except Exception as exc:
        if is_missing_table(exc):
            return []
        raise


def table_columns(sql: Any, table: str) -> set[str] | None:
    """Column names of `table` in the dataset, or None when it does not exist yet."""
    try:
        with sql.execute_query(f"SELECT * FROM {sql.make_qualified_table_name(table)} WHERE 1 = 0") as cursor:
            return {d[0] for d in cursor.description}
    except Exception as exc:
        if is_missing_table(exc):
            return None
        raise


def already_loaded(
    sql: Any,
    table: str,
    columns: dict[str, str],
    keys: Sequence[dict[str, Any]],
    final: dict[str, Sequence[Any]] | None = None,
) -> set[tuple]:
    """The keys (as tuples in `columns` order) whose row is already in `table`; with `final`
    (column -> final values), only those whose every loaded row is final."""
    if not keys:
        return set()
    qualified = sql.make_qualified_table_name(table)
    names = list(columns)
    first = names[0]
    checks = list((final or {}).items())
    selected = ", ".join(names + [column for column, _ in checks])
    values = sorted({k[columns[first]] for k in keys}, key=str)
    found: set[tuple] = set()
    unfinished: set[tuple] = set()
    for start in range(0, len(values), 500):
        chunk = values[start : start + 500]
        marks = ", ".join(["%s"] * len(chunk))
        rows = query_rows(sql, f"SELECT {selected} FROM {qualified} WHERE {first} IN ({marks})", *chunk)
        for row in rows:
            key = tuple(str(v) for v in row[: len(names)])
            found.add(key)
            done = row[len(names) :]
            if any(value not in allowed for value, (_, allowed) in zip(done, checks, strict=True)):
                unfinished.add(key)
    found -= unfinished
    return {t for t in (tuple(str(k[columns[n]]) for n in names) for k in keys) if t in found}
