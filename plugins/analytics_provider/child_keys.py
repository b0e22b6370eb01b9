"""The keys a parent task hands to each child: from the rows it just loaded, plus (scheduled runs)
the parents whose children were not final yet, minus what a child fetches once and already has."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from analytics_provider.refresh import RefreshPlan, already_loaded, plan_refresh
from analytics_provider.spec.keys import child_keys
from analytics_provider.spec.model import ResourceSpec, Spec


def keys_for_children(
    spec: Spec,
    resource: ResourceSpec,
    child_rows: list[dict[str, Any]],
    pipeline: Any,
    refresh_at: datetime | None,
    log: Any,
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, int] | None]:
    """Keys per child resource, and the refresh summary (None when this run does not refresh).

    `pipeline` is the dlt pipeline that just loaded, for its SQL client; `refresh_at` is the run's
    reference time, or None for explicit-window runs, which leave the refresh tracking alone."""
    children = spec.children(resource.name)
    refresh_parents: list[Any] = []
    summary = None
    if resource.refresh is not None and refresh_at is not None and children:
        with pipeline.sql_client() as sql:
            plan = plan_refresh(sql, resource.table, resource.primary_key[0], resource.refresh, refresh_at)
        _log_refresh(log, resource, plan)
        refresh_parents, summary = plan.parents(), plan.summary()
    keys: dict[str, list[dict[str, Any]]] = {}
    for child in children:
        found, skipped = child_keys(child.bind, child_rows, child.only_if)
        if skipped:
            log.info(
                "%d `%s` rows lack a value `%s` binds (%s): not parents of it",
                skipped,
                resource.name,
                child.name,
                ", ".join(child.bind.values()),
            )
        found = _with_refresh_parents(resource, child, found, refresh_parents)
        if child.skip_loaded and found:
            found = _without_loaded(pipeline, child, found, log)
        keys[child.name] = found
    return keys, summary


def _log_refresh(log: Any, resource: ResourceSpec, plan: RefreshPlan) -> None:
    assert resource.refresh is not None
    log.info(
        "Refresh of `%s` children: %d parents created in the last %s, %d owning unfinished `%s` rows",
        resource.name,
        len(plan.lookback),
        resource.refresh.lookback,
        len(plan.unfinished),
        resource.refresh.table,
    )
    if plan.dropped:
        log.warning(
            "%d unfinished `%s` rows are older than %s and no longer re-read: %s%s",
            len(plan.dropped),
            resource.refresh.table,
            resource.refresh.max_age,
            ", ".join(map(str, plan.dropped[:20])),
            " ..." if len(plan.dropped) > 20 else "",
        )


def _with_refresh_parents(
    resource: ResourceSpec, child: ResourceSpec, found: list[dict[str, Any]], parent_ids: list[Any]
) -> list[dict[str, Any]]:
    """Add re-read parents to a child that binds only the parent's primary key."""
    by_pk = [name for name, expr in child.bind.items() if expr == resource.primary_key[0]]
    if not parent_ids or len(by_pk) != len(child.bind):
        return found
    seen = {tuple(sorted(k.items())) for k in found}
    extra = [{name: pid for name in by_pk} for pid in parent_ids]
    return found + [k for k in extra if tuple(sorted(k.items())) not in seen]


def _without_loaded(pipeline: Any, child: ResourceSpec, found: list[dict[str, Any]], log: Any) -> list[dict]:
    with pipeline.sql_client() as sql:
        have = already_loaded(sql, child.table, child.skip_loaded, found)
    if not have:
        return found
    columns = list(child.skip_loaded)
    log.info("%d `%s` already loaded and final: not fetched again", len(have), child.name)
    return [k for k in found if tuple(str(k[child.skip_loaded[c]]) for c in columns) not in have]
