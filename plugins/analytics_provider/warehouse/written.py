"""What a load wrote, as OpenLineage reports it: the tables with their columns and row counts, and
where they live (never credentials). Recorded while the dlt pipeline is at hand."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class WrittenTables:
    """What a load wrote, recorded while the dlt pipeline is at hand."""

    namespace: str
    prefix: str
    """Prepended to each table name: `<database>.<schema>` (PostgreSQL) or `<schema>` (DuckDB)."""
    tables: dict[str, dict[str, str]] = field(default_factory=dict)
    """table -> {column: dlt data type}"""
    rows: dict[str, int] = field(default_factory=dict)


def record_written(pipeline: Any, dataset: str, rows: dict[str, int]) -> WrittenTables:
    """The tables of `rows` with their columns, and where they live (never credentials)."""
    namespace, prefix = _destination_namespace(pipeline, dataset)
    schema = pipeline.default_schema
    tables = {
        table: {name: str(col.get("data_type", "")) for name, col in schema.get_table_columns(table).items()}
        for table in rows
        if table in schema.tables
    }
    return WrittenTables(namespace, prefix, tables, dict(rows))


def _destination_namespace(pipeline: Any, dataset: str) -> tuple[str, str]:
    kind = pipeline.destination.destination_name
    credentials = pipeline.destination_client().config.credentials
    if kind == "postgres":
        return f"postgres://{credentials.host}:{credentials.port or 5432}", f"{credentials.database}.{dataset}"
    if kind == "duckdb":
        return f"duckdb://{Path(str(credentials.database)).resolve()}", dataset
    return f"{kind}://", dataset
