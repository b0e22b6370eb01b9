"""`plan_<child>` tasks: a parent's load summaries -> batches of keys for the child's mapped load tasks.

Imported when DAG files are parsed: nothing here imports dlt until a plan task runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

MAX_MAP_LENGTH = 1024  # Airflow's `[core] max_map_length` default: a longer list fails the plan task


def plan_batches(
    parent_output: Any,
    child: str,
    batch_size: int = 0,
    *,
    spec_path: str | None = None,
    destination_conn_id: str | None = None,
    dataset_name: str = "analytics",
    max_batches: int = MAX_MAP_LENGTH,
) -> list[list[dict[str, Any]]]:
    """Read the keys `child` needs, recorded by the parent's loads (one summary, or one per mapped
    parent task), and cut them into batches of `batch_size` (0: one batch with every key).
    An empty result makes Airflow skip the mapped child instead of failing the run. Batches grow
    past `batch_size` when needed to stay within `max_batches` mapped tasks."""
    summaries = _summaries(parent_output)
    load_ids = sorted({str(i) for s in summaries for i in s.get("load_ids") or []})
    refresh_parents = list(dict.fromkeys(p for s in summaries for p in s.get("refresh_parents") or []))
    if not load_ids and not refresh_parents:
        return []
    from analytics_provider.child_keys import read_child_keys
    from analytics_provider.destinations import open_sql
    from analytics_provider.spec.loader import load_spec

    spec = load_spec(spec_path)
    resource = spec.resource(child)
    parent_table = spec.resource(resource.parent).table if resource.parent else ""
    loaded = sum(int((s.get("rows") or {}).get(parent_table) or 0) for s in summaries)
    with open_sql(destination_conn_id, dataset_name) as sql:
        keys = read_child_keys(sql, spec, resource, load_ids, refresh_parents, loaded)
    return cut_batches(keys, batch_size, max_batches)


def cut_batches(
    keys: list[dict[str, Any]], batch_size: int = 0, max_batches: int = MAX_MAP_LENGTH
) -> list[list[dict[str, Any]]]:
    """Batches of `batch_size` keys (0: one batch), grown so that there are at most `max_batches`."""
    if not keys:
        return []
    size = batch_size if batch_size > 0 else len(keys)
    size = max(size, -(-len(keys) // max_batches))
    return [keys[i : i + size] for i in range(0, len(keys), size)]


def _summaries(parent_output: Any) -> list[Mapping[str, Any]]:
    if isinstance(parent_output, Mapping):
        outputs: Iterable[Any] = [parent_output]
    elif parent_output is None:
        outputs = []
    else:
        # a mapped parent's outputs: one slice is one XCom request, where iterating asks index by
        # index until Airflow answers "not found" (logged as an ERROR line in every plan task)
        outputs = parent_output[:] if isinstance(parent_output, Sequence) else parent_output
    return [o for o in outputs if isinstance(o, Mapping)]
