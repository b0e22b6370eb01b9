"""DuckDB loads of dlt's jsonl files with the table's own column types, not DuckDB's guesses.

dlt loads a jsonl file into DuckDB with `INSERT ... SELECT * FROM read_json(file)`, and
`read_json` detects the types itself: a JSON column's objects become STRUCTs (every row gets the
union of all rows' keys, as nulls) and ISO timestamps inside them are re-typed, so the value
cast back to JSON is no longer what the API sent (`"2026-11-17T12:59:00.000Z"` comes back as
`"2026-11-17 12:59:00+00"`, and a branch one project has appears, null, in every other
project's map). Text that looks like a timestamp is re-typed the same way. Here the copy job
passes the table's columns, typed as dlt's schema says, so DuckDB reads each value as that type
(JSON kept as the text sent) and a key missing from a row is a NULL.
"""

from __future__ import annotations

from typing import Any

_JSONL = ("jsonl", "typed-jsonl")


def install() -> None:
    """Make dlt's DuckDB destination load jsonl files with typed columns (idempotent)."""
    from dlt.destinations.impl.duckdb import duck

    if getattr(duck.DuckDbCopyJob, "typed_columns", False):
        return
    duck.DuckDbCopyJob = _typed_copy_job(duck.DuckDbCopyJob)


def _typed_copy_job(base: type) -> type:
    from dlt.common.storages.load_package import ParsedLoadJobFileName

    class TypedJsonlCopyJob(base):  # type: ignore[misc, valid-type]
        typed_columns = True

        def run(self) -> None:
            if ParsedLoadJobFileName.parse(self._file_path).file_format not in _JSONL:
                super().run()
                return
            sql = self._job_client.sql_client
            self._sql_client = sql
            table = sql.make_qualified_table_name(self.load_table_name)
            columns = read_json_columns(self._load_table, self._job_client.type_mapper)
            sql.execute_sql(
                f"INSERT INTO {table} BY NAME SELECT * FROM read_json('{self._file_path}', "
                f"format = 'newline_delimited', columns = {columns})"
            )

    return TypedJsonlCopyJob


def read_json_columns(table: dict[str, Any], type_mapper: Any) -> str:
    """DuckDB's `columns = {'name': 'TYPE', ...}` for every typed column of the dlt `table`."""
    items = []
    for name, column in table["columns"].items():
        if not column.get("data_type"):
            continue
        kind = type_mapper.to_destination_type(column, table)
        items.append(f"{_literal(name)}: {_literal(kind)}")
    return "{" + ", ".join(items) + "}"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
