"""A parent's load summaries -> the keys its child loads: cut into batches by a `plan_<child>` task
for the child's mapped tasks, or read by the child's load task itself (`parent_output`).

Imported when DAG files are parsed: nothing here imports dlt until a plan task runs.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from analytics_provider.config.model import ResourceSpec
    from analytics_provider.fanout.child_keys import KeyList

MAX_MAP_LENGTH = 1024  # Airflow's `[core] max_map_length` default: a longer list fails the plan task
MIN_BATCH_KEYS = 100
"""The fewest keys a batch is cut down to so that each pool slot gets one (`min_batches`): below it,
a task's fixed cost (1-2 s) outweighs the requests it takes over."""
LABEL_MAX = 40
"""Characters of a mapped task's label: longer ones wrap the UI's breadcrumb."""
BATCH_REF = "batch_xcom"
"""The key of a batch reference (plan_batch_refs): where the plan task pushed the batch."""


@dataclass(frozen=True)
class ParentLoads:
    """What a parent task's summaries (one, or one per mapped parent task) say its children need."""

    load_ids: list[str]
    refresh_parents: list[Any]
    rows: int
    """Rows of the parent's table those loads wrote: no recorded keys for them is an error."""

    @property
    def empty(self) -> bool:
        return not self.load_ids and not self.refresh_parents


def parent_loads(parent_output: Any, parent_table: str) -> ParentLoads:
    summaries = _summaries(parent_output)
    return ParentLoads(
        load_ids=sorted({str(i) for s in summaries for i in s.get("load_ids") or []}),
        refresh_parents=list(dict.fromkeys(p for s in summaries for p in s.get("refresh_parents") or [])),
        rows=sum(int((s.get("rows") or {}).get(parent_table) or 0) for s in summaries),
    )


def read_keys(sql: Any, parent: ResourceSpec, child: ResourceSpec, loads: ParentLoads) -> KeyList:
    """The keys `child` loads, read from the rows `loads` of `parent` recorded (child_keys.py)."""
    from analytics_provider.fanout.child_keys import read_child_keys

    return read_child_keys(sql, parent, child, loads.load_ids, loads.refresh_parents, loads.rows)


def iter_batches(
    parent_output: Any,
    child: str,
    batch_size: int = 0,
    *,
    spec_path: str | None = None,
    destination_conn_id: str | None = None,
    dataset_name: str = "analytics",
    max_batches: int = MAX_MAP_LENGTH,
    min_batches: int = 1,
) -> Iterator[list[dict[str, Any]]]:
    """Read the keys `child` needs, recorded by the parent's loads (one summary, or one per mapped
    parent task), and cut them into batches of at most `batch_size` (0: one batch with every key),
    made one at a time from the compactly held keys. No batches make Airflow skip the mapped child
    instead of failing the run."""
    from analytics_provider.config.loader import load_spec

    spec = load_spec(spec_path)
    resource = spec.resource(child)
    assert resource.parent is not None, f"`{child}` has no parent"
    parent = spec.resource(resource.parent)
    loads = parent_loads(parent_output, parent.table)
    if loads.empty:
        return
    from analytics_provider.warehouse.destinations import open_sql

    with open_sql(destination_conn_id, dataset_name) as sql:
        keys = read_keys(sql, parent, resource, loads)
    for start, stop in batch_bounds(len(keys), batch_size, max_batches, min_batches):
        yield keys[start:stop]


def plan_batches(parent_output: Any, child: str, batch_size: int = 0, **where: Any) -> list[list[dict[str, Any]]]:
    """Every batch of `iter_batches` as a list (`where`: its keyword-only arguments)."""
    return list(iter_batches(parent_output, child, batch_size, **where))


def _pushing_batches(plan: Callable[..., Iterable[list[dict[str, Any]]]]) -> Callable[..., list[dict[str, Any]]]:
    """`plan` as the generated DAGs' `plan_<child>` task: each batch pushed as an XCom of its own
    (`batch_<i>`) as soon as it is made, a small reference returned per batch. Airflow hands every
    mapped task the whole return value of the task it is mapped over; at 1M parent keys the batches
    are tens of MB, the references a few KB (BENCHMARKS.md, session 6). The load task pulls only
    its own batch. (`functools.wraps` keeps `plan`'s signature, from which Airflow decides what to
    pass.)"""

    @functools.wraps(plan)
    def plan_batch_refs(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        from airflow.sdk import get_current_context

        ti = get_current_context()["ti"]
        refs = []
        for index, batch in enumerate(plan(*args, **kwargs)):
            ti.xcom_push(key=f"batch_{index}", value=batch)
            refs.append(batch_ref(ti.task_id, index, batch))
        return refs

    plan_batch_refs.__doc__ = _pushing_batches.__doc__
    plan_batch_refs.__name__ = plan_batch_refs.__qualname__ = "plan_batch_refs"
    plan_batch_refs.__signature__ = inspect.signature(plan).replace(  # type: ignore[attr-defined]
        return_annotation="list[dict[str, Any]]"
    )
    return plan_batch_refs


plan_batch_refs = _pushing_batches(iter_batches)


def batch_ref(task_id: str, index: int, batch: list[dict[str, Any]]) -> dict[str, Any]:
    return {BATCH_REF: {"task_id": task_id, "key": f"batch_{index}"}, "keys": len(batch), "first": batch[0]}


def is_batch_ref(value: Any) -> bool:
    return isinstance(value, Mapping) and BATCH_REF in value


def pull_batch(ref: Mapping[str, Any], context: Any) -> list[dict[str, Any]]:
    """The batch a reference names, from the plan task's XCom."""
    where = ref[BATCH_REF]
    batch = context["ti"].xcom_pull(task_ids=where["task_id"], key=where["key"])
    if batch is None:
        raise LookupError(
            f"no XCom `{where['key']}` of `{where['task_id']}`: clear the plan task to cut the batches again"
        )
    return list(batch)


def batch_bounds(
    count: int, batch_size: int = 0, max_batches: int = MAX_MAP_LENGTH, min_batches: int = 1
) -> list[tuple[int, int]]:
    """[start, stop) of as few batches of at most `batch_size` of `count` keys (0: one batch) as there
    can be, but at least `min_batches` (the pool's slots: each runs one) while every batch keeps
    `MIN_BATCH_KEYS`, no more than `max_batches` (their size grows instead), and of even sizes: 450
    keys by 200 are 150 + 150 + 150, not 200 + 200 + 50, so mapped tasks started together also end
    together. 513 keys by 300 for 4 slots are 4 batches of about 128, not 2 of 257 that would leave
    2 slots idle."""
    if count <= 0:
        return []
    size = batch_size if batch_size > 0 else count
    batches = max(-(-count // size), 1)
    if batch_size > 0:
        batches = max(batches, min(min_batches, count // MIN_BATCH_KEYS))
    batches = min(batches, max_batches)
    step, extra = divmod(count, batches)
    bounds = [i * step + min(i, extra) for i in range(batches + 1)]
    return [(bounds[i], bounds[i + 1]) for i in range(batches)]


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


def batch_label(keys: Sequence[Mapping[str, Any]]) -> str:
    """`200 keys from 5f3c…`: the batch size and the start of its first key, at most LABEL_MAX long."""
    label = f"{len(keys)} keys"
    if keys:
        first = ", ".join(str(v) for v in keys[0].values())
        room = LABEL_MAX - len(label) - len(" from ")
        label += " from " + (first if len(first) <= room else first[: room - 1] + "…")
    return label
