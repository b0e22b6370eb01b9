"""One task's parent keys, whichever of the three ways the DAG hands them over.

- a batch: given as `parent_keys`, or a reference to the batch a `plan_<child>` task pushed;
- the parent's loads (`parent_output`): the keys those loads recorded, read from the destination
  under the dataset's lock;
- `fetch_parent`: the parent's rows read from the API in this task (parent_fetch.py).

A root resource has none. What the operator does with an empty answer (skip, or load nothing) is
its own business: this module only says what the keys are, or why there are none.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from analytics_provider.config.model import ResourceSpec
from analytics_provider.fanout.batching import batch_label, is_batch_ref, parent_loads, pull_batch, read_keys

if TYPE_CHECKING:
    from analytics_provider.dlt_source.builder import SourceArgs
    from analytics_provider.dlt_source.window import LoadWindow


@dataclass
class TaskKeys:
    """A task's keys: None for a root resource, else the keys of its batch (maybe none)."""

    keys: Sequence[dict[str, Any]] | None = None
    label: str | None = None
    """The mapped task's name in the UI (`map_index_template="{{ batch }}"`): its batch; None for a root."""
    nothing_because: str | None = None
    """Set when the parent gave this child nothing to load, and why: the task is skipped."""
    fetched_requests: int = 0
    """Requests made to read the parent's rows (`fetch_parent`)."""


def resolve_task_keys(
    child: ResourceSpec,
    parent: ResourceSpec | None,
    fetched: Sequence[ResourceSpec],
    parent_keys: Any,
    parent_output: Any,
    context: Any,
    *,
    reading: Callable[[], contextlib.AbstractContextManager[Any]],
    api: SourceArgs | None = None,
    window: LoadWindow | None = None,
) -> TaskKeys:
    """The keys of this task. `reading()`: dlt's SQL client on the dataset, under its lock.
    `fetched`: the parents a `fetch_parent` child reads from the API, its own first, built with
    `api` over `window`."""
    if parent is None:
        return TaskKeys()
    if is_batch_ref(parent_keys):
        parent_keys = pull_batch(parent_keys, context)
    if parent_output is not None:
        loads = parent_loads(parent_output, parent.table)
        if loads.empty:
            return TaskKeys(
                label=batch_label([]), nothing_because=f"`{parent.name}` loaded nothing: no `{child.name}` to load"
            )
        with reading() as sql:
            recorded = read_keys(sql, parent, child, loads)
        return _found(child, recorded, "loaded")
    if child.fetch_parent and parent_keys is None:
        from analytics_provider.fanout.parent_fetch import fetch_parent_keys

        assert api is not None and window is not None, "a fetched parent is read with the task's source"
        keys, made = fetch_parent_keys(child, fetched, api, window)
        return _found(child, keys, "the API listed", made)
    keys = list(parent_keys or [])
    return TaskKeys(keys=keys, label=batch_label(keys))


def _found(child: ResourceSpec, keys: Sequence[dict[str, Any]], where: str, made: int = 0) -> TaskKeys:
    """Keys read for `child` (from what its parent loaded, or what the API listed): none skip the task."""
    if not keys:
        return TaskKeys(
            label=batch_label([]), nothing_because=f"no `{child.name}` keys in what `{child.parent}` {where}"
        )
    return TaskKeys(keys=keys, label=batch_label(keys), fetched_requests=made)
