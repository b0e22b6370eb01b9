"""What one load task works on, resolved once from the spec before the work starts: the resource as
the connection's API version reads it, its parent and the parents it reads from the API, what its
load records for its children, and the window it loads. The steps after it take only these facts,
so no step looks anything up in the spec again."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from analytics_provider.config.key_records import recorded_fields
from analytics_provider.config.model import ResourceSpec, Spec
from analytics_provider.dlt_source.window import LoadWindow
from analytics_provider.window import past_retention, reference_time, resolve_window


@dataclass(frozen=True)
class LoadTask:
    resource: ResourceSpec
    parent: ResourceSpec | None
    fetched: tuple[ResourceSpec, ...]
    """A `fetch_parent` child's parents read from the API in this task, its own first."""
    records: tuple[str, ...]
    """The fields of each row that its children bind or filter on, recorded with its load."""
    has_children: bool
    window: LoadWindow
    served_since: str | None
    """The earliest instant the API still serves, when the window starts before it."""
    reference: Callable[[], datetime] | None
    """'Now' for the refresh plan of a scheduled run; None on a stateless (explicit) window."""


def resolve_load_task(
    spec: Spec, name: str, api_version: str, context: Any, *, start: Any, end: Any, log: Any
) -> LoadTask:
    """Resource `name` of `spec` as a task of this run resolves it (`start`/`end`: the operator's)."""
    resource = spec.resource(name).for_api(api_version)
    parent = spec.resource(resource.parent) if resource.parent else None  # as its loads recorded the keys
    fetched: list[ResourceSpec] = []
    reader = resource
    while reader.fetch_parent and reader.parent:
        fetched.append(spec.resource(reader.parent).for_api(api_version))
        reader = fetched[-1]
    initial = resource.incremental.initial_lookback if resource.incremental else None
    window = resolve_window(context, start=start, end=end, **({"initial_lookback": initial} if initial else {}))
    return LoadTask(
        resource=resource,
        parent=parent,
        fetched=tuple(fetched),
        records=tuple(recorded_fields(spec, resource)),
        has_children=bool(spec.children(resource.name)),
        window=window,
        served_since=past_retention(resource, window, log),
        reference=None if window.stateless else partial(reference_time, context),
    )
