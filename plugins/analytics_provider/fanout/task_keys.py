"""One task's parent keys, whichever of the three ways the DAG hands them over.

- a batch: given as `parent_keys`, or a reference to the batch a `plan_<child>` task pushed;
- the parent's loads (`parent_output`): the keys those loads recorded, read from the destination
  once the task holds its lock (`read_recorded`);
- `fetch_parent`: the parent's rows read from the API in this task (parent_fetch.py).

A root resource has none. What the operator does with an empty answer (skip, or load nothing) is
its own business: this module only says where the keys are and why there are none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from analytics_provider.config.model import ResourceSpec, Spec
from analytics_provider.fanout.batching import ParentLoads, is_batch_ref, parent_loads, pull_batch, read_keys


@dataclass
class TaskKeys:
    """The keys known before the load (`keys`), or where to read them once it holds the lock (`loads`)."""

    keys: list[dict[str, Any]] | None = None
    loads: ParentLoads | None = None
    fetched: bool = False
    """The keys were read from the API in this task (`fetch_parent`)."""
    fetched_requests: int = 0
    """Requests made to read the parent's rows."""
    nothing_because: str | None = None
    """Set when there is nothing to load, and why (the parent loaded nothing)."""


def resolve_task_keys(
    spec: Spec,
    resource: ResourceSpec,
    parent_keys: Any,
    parent_output: Any,
    context: Any,
    source_args: dict[str, Any],
) -> TaskKeys:
    """Where this task's keys come from. `source_args` are what a fetched parent's source is built with."""
    if is_batch_ref(parent_keys):
        parent_keys = pull_batch(parent_keys, context)
    if parent_output is not None and resource.parent is not None:
        loads = parent_loads(parent_output, spec.resource(resource.parent).table)
        if loads.empty:
            return TaskKeys(nothing_because=f"`{resource.parent}` loaded nothing: no `{resource.name}` to load")
        return TaskKeys(loads=loads)
    if resource.fetch_parent and parent_keys is None:
        from analytics_provider.fanout.parent_fetch import fetch_parent_keys

        keys, fetched = fetch_parent_keys(spec, resource, **source_args)
        return TaskKeys(keys=keys, fetched=True, fetched_requests=fetched)
    return TaskKeys(keys=parent_keys)


def read_recorded(sql: Any, spec: Spec, resource: ResourceSpec, task_keys: TaskKeys) -> list[dict[str, Any]] | None:
    """The keys, reading what the parent's loads recorded when that is where they are (`sql`: a
    client of the destination, under the dataset's lock)."""
    if task_keys.loads is None:
        return task_keys.keys
    return list(read_keys(sql, spec, resource, task_keys.loads))
