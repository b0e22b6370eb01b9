"""The keys a child's tasks load: recorded with the parent's load, read back by `plan_<child>` or
by the child's load task itself (batching.py).

A parent's load writes, beside its rows and in the same load (so committed with them or not at
all), the fields its children bind of each row to `_analytics_keys_<parent table>`: one row per
page of parent rows, holding their projection as a JSON list (one row per parent row cost a measurable share of
the load's CPU, mostly in dlt's normalizer: BENCHMARKS.md, session 3). The load task
returns only its load ids; the child's keys are read from the rows of exactly those loads. Nothing
proportional to the rows is held in the load task's memory or sent through XCom, and a later load
that merges the same parent rows again (another run, a backfill beside it, the `workflow`
resource re-reading its sibling's rows) cannot take them away from this run's children.
Recorded keys older than `KEEP_KEYS` are pruned by later loads of the same parent.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, overload

import orjson

from analytics_provider.config.key_records import KEYS_COLUMN
from analytics_provider.config.model import ResourceSpec
from analytics_provider.fanout.bind import child_key_values
from analytics_provider.fanout.sql import already_loaded, table_columns

log = logging.getLogger(__name__)
FETCH_PAGES = 500
KEEP_KEYS = timedelta(days=30)
"""How long recorded keys are kept: a child task cleared and re-run within this finds its keys."""


@dataclass(frozen=True)
class KeyList(Sequence[dict[str, Any]]):
    """A child's keys, held as one tuple of values per key (in `names` order): a dict per key took
    about twice the memory (BENCHMARKS.md, session 6, the plan task at 1M keys). Reading
    an item or a slice makes its dicts, so a batch is made when it is handed out."""

    names: tuple[str, ...]
    values: list[tuple[Any, ...]]

    def __len__(self) -> int:
        return len(self.values)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return [self._dict(v) for v in self.values[index]]
        return self._dict(self.values[index])

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (self._dict(v) for v in self.values)

    def _dict(self, values: tuple[Any, ...]) -> dict[str, Any]:
        return dict(zip(self.names, values, strict=True))

    def keeping(self, values: list[tuple[Any, ...]]) -> KeyList:
        return KeyList(self.names, values)


def distinct_keys(parent: ResourceSpec, child: ResourceSpec, rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The distinct keys `child` binds of `parent` rows (`only_if` applied), sorted: the same batches
    whatever order the pages come back in. Rows without a bound value are counted in the log."""
    return list(distinct_key_list(parent, child, rows))


def distinct_key_list(parent: ResourceSpec, child: ResourceSpec, rows: Iterable[Mapping[str, Any]]) -> KeyList:
    """`distinct_keys`, held compactly."""
    found, skipped = child_key_values(child.bind, rows, child.only_if)
    _sort(found)
    if skipped:
        log.info(
            "%d `%s` rows lack a value `%s` binds (%s): not parents of it",
            skipped,
            parent.name,
            child.name,
            ", ".join(child.bind.values()),
        )
    return KeyList(tuple(child.bind), found)


def read_child_keys(
    sql: Any,
    parent: ResourceSpec,
    child: ResourceSpec,
    load_ids: Sequence[str],
    refresh_parents: Sequence[Any] = (),
    parent_rows_loaded: int = 0,
) -> KeyList:
    """Distinct keys for `child`: from the rows the parent's `load_ids` recorded, plus
    `refresh_parents` (primary keys of parents to re-read), minus the `skip_loaded` ones.
    `parent_rows_loaded` (from the parent's summaries) makes missing records an error, not an
    empty fan-out."""
    table = parent.keys_table
    counted = [0]

    def rows() -> Iterator[dict[str, Any]]:  # streamed: counted, never held as a list
        for row in recorded_rows(sql, table, child.reads, load_ids) if load_ids else ():
            counted[0] += 1
            yield row

    found = distinct_key_list(parent, child, rows())
    if parent_rows_loaded and not counted[0]:
        raise LookupError(
            f"`{parent.name}` loaded {parent_rows_loaded} rows in loads {', '.join(load_ids)}, but `{table}` holds "
            f"no keys of them (pruned after {KEEP_KEYS.days} days, or dropped): re-run the `{parent.name}` task"
        )
    found = _with_refresh_parents(parent, child, found, refresh_parents)
    if child.skip_loaded and found:
        found = _without_loaded(sql, child, found)
    log.info(
        "`%s`: %d keys from %d `%s` rows of %d loads", child.name, len(found), counted[0], parent.name, len(load_ids)
    )
    return found


def recorded_rows(sql: Any, table: str, fields: list[str], load_ids: Sequence[str]) -> Iterator[dict[str, Any]]:
    """Parent rows recorded in `table` by `load_ids`, as {field: value} for `fields` (a field the
    row did not have is None). Streamed, page by page, in no particular order."""
    existing = table_columns(sql, table)
    if existing is None or KEYS_COLUMN not in existing:
        return
    column, load_id = sql.escape_column_name(KEYS_COLUMN), sql.escape_column_name("_dlt_load_id")
    for start in range(0, len(load_ids), 500):
        chunk = list(load_ids[start : start + 500])
        query = (
            f"SELECT {column} FROM {sql.make_qualified_table_name(table)} "
            f"WHERE {load_id} IN ({', '.join(['%s'] * len(chunk))})"
        )
        with sql.execute_query(query, *chunk) as cursor:
            while pages := cursor.fetchmany(FETCH_PAGES):
                for (page,) in pages:
                    # a JSON string (DuckDB and most warehouses) or already parsed (PostgreSQL's jsonb)
                    for row in orjson.loads(page) if isinstance(page, (str, bytes)) else page or ():
                        yield {field: row.get(field) for field in fields}


def _key_order(values: tuple[Any, ...]) -> tuple[tuple[bool, Any], ...]:
    """Numbers in numeric order, before any other value in text order."""
    return tuple((False, v) if isinstance(v, (int, float)) else (True, str(v)) for v in values)


def _sort(keys: list[tuple[Any, ...]]) -> None:
    """Sort in `_key_order`. Where each position of the keys holds only text or only numbers, that
    is the tuples' own order, sorted without a key: a key function per item costs far more memory
    and time at 1M keys (BENCHMARKS.md, session 6)."""
    width = len(keys[0]) if keys else 0
    if all(_one_kind(keys, i) for i in range(width)):
        keys.sort()
    else:
        keys.sort(key=_key_order)


def _one_kind(keys: list[tuple[Any, ...]], position: int) -> bool:
    return all(isinstance(k[position], str) for k in keys) or all(isinstance(k[position], (int, float)) for k in keys)


def prune_keys(sql: Any, table: str, now: datetime) -> None:
    """Drop the keys recorded in `table` (a parent's keys table) longer ago than `KEEP_KEYS` (load
    ids are the load's start, in epoch seconds)."""
    if table_columns(sql, table) is None:
        return
    cutoff = f"{(now - KEEP_KEYS).timestamp():.6f}"
    load_id = sql.escape_column_name("_dlt_load_id")
    sql.execute_sql(f"DELETE FROM {sql.make_qualified_table_name(table)} WHERE {load_id} < %s", cutoff)


def _with_refresh_parents(
    parent: ResourceSpec, child: ResourceSpec, found: KeyList, parent_ids: Sequence[Any]
) -> KeyList:
    """Add re-read parents to a child that binds only the parent's primary key."""
    if not parent_ids or not parent.primary_key:
        return found
    by_pk = [name for name, expr in child.bind.items() if expr == parent.primary_key[0]]
    if len(by_pk) != len(child.bind):
        return found
    seen = set(found.values)
    extra = [(pid,) * len(found.names) for pid in parent_ids]
    return found.keeping(found.values + [k for k in extra if k not in seen])


def _without_loaded(sql: Any, child: ResourceSpec, found: KeyList) -> KeyList:
    have = already_loaded(sql, child.table, child.skip_loaded, found, child.skip_final)
    if not have:
        return found
    at = [found.names.index(child.skip_loaded[column]) for column in child.skip_loaded]
    log.info("%d `%s` already loaded and final: not fetched again", len(have), child.name)
    return found.keeping([v for v in found.values if tuple(str(v[i]) for i in at) not in have])
