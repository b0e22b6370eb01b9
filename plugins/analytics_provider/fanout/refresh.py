"""Keeping unfinished records fresh, and not fetching twice what is already final.

Both read the destination through the pipeline's SQL client after a load: the warehouse is the
record of what was loaded and how final it was, on any worker and for any destination dlt can
query. A table that does not exist yet means nothing is loaded yet.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from analytics_provider.config.model import RefreshSpec, ResourceSpec
from analytics_provider.dlt_source.window import duration
from analytics_provider.fanout.sql import query_rows, table_columns

log = logging.getLogger(__name__)
_SHOWN = 20


@dataclass
class RefreshPlan:
    """Parents whose children a scheduled run re-reads, and why."""

    lookback: list[Any] = field(default_factory=list)
    unfinished: list[Any] = field(default_factory=list)
    orphans: list[Any] = field(default_factory=list)
    """Parents younger than `max_age` with no child row at all: their children were never loaded
    (a run that failed after loading the parents); re-read until they have some."""
    dropped: list[Any] = field(default_factory=list)
    """Unfinished child rows older than `max_age`: no longer re-read."""

    def parents(self) -> list[Any]:
        return list(dict.fromkeys([*self.lookback, *self.unfinished, *self.orphans]))

    def summary(self) -> dict[str, int]:
        return {
            "lookback_parents": len(self.lookback),
            "unfinished_parents": len(self.unfinished),
            "parents_without_children": len(self.orphans),
            "parents_reread": len(self.parents()),
            "dropped_unfinished": len(self.dropped),
        }


def refresh_for(resource: ResourceSpec, sql: Any, reference: datetime, log: Any) -> RefreshPlan | None:
    """The refresh plan of a parent that has one, logged; else None."""
    if resource.refresh is None:
        return None
    plan = plan_refresh(sql, resource.table, resource.primary_key[0], resource.refresh, reference)
    log.info(
        "Refresh of `%s` children: %d parents created in the last %s, %d owning unfinished `%s` rows",
        resource.name,
        len(plan.lookback),
        duration(resource.refresh.lookback),
        len(plan.unfinished),
        resource.refresh.table,
    )
    if plan.dropped:
        log.warning(
            "%d unfinished `%s` rows are older than %s and no longer re-read: %s%s",
            len(plan.dropped),
            resource.refresh.table,
            duration(resource.refresh.max_age),
            ", ".join(map(str, plan.dropped[:_SHOWN])),
            " ..." if len(plan.dropped) > _SHOWN else "",
        )
    return plan


def plan_refresh(
    sql: Any, parent_table: str, parent_key: str, refresh: RefreshSpec, reference: datetime
) -> RefreshPlan:
    """Which parents to re-read at `reference` time (the run's data interval end or now)."""
    parents = sql.make_qualified_table_name(parent_table)
    children = sql.make_qualified_table_name(refresh.table)
    created, status, owner = refresh.created_column, refresh.status_column, refresh.parent_column
    since = reference - refresh.lookback
    cutoff = reference - refresh.max_age
    plan = RefreshPlan()
    plan.lookback = [r[0] for r in query_rows(sql, f"SELECT {parent_key} FROM {parents} WHERE {created} >= %s", since)]
    marks = ", ".join(["%s"] * len(refresh.final))
    unfinished = query_rows(
        sql,
        f"SELECT {owner}, id, {created} FROM {children} WHERE {status} IS NULL OR {status} NOT IN ({marks})",
        *refresh.final,
    )
    for parent_id, child_id, created_at in unfinished:
        if created_at is not None and _as_datetime(created_at) < cutoff:
            plan.dropped.append(child_id)
        else:
            plan.unfinished.append(parent_id)
    plan.unfinished = list(dict.fromkeys(plan.unfinished))
    young = f"SELECT p.{parent_key} FROM {parents} p WHERE p.{created} >= %s"
    orphan_sql = f"{young} AND NOT EXISTS (SELECT 1 FROM {children} c WHERE c.{owner} = p.{parent_key})"
    has_children = table_columns(sql, refresh.table) is not None  # a first run may have no child table yet
    orphan_cutoff = reference - refresh.orphan_max_age
    rows = query_rows(sql, orphan_sql, orphan_cutoff) if has_children else query_rows(sql, young, orphan_cutoff)
    plan.orphans = [r[0] for r in rows]
    return plan


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    import pendulum

    return pendulum.parse(str(value))


def after_parent_load(
    resource: ResourceSpec, has_children: bool, reference: Callable[[], datetime] | None, log: Any
) -> Callable[[Any], Any] | None:
    """For a parent: the SQL that must see its load, under the same lock (prune the recorded keys;
    given `reference()`, a scheduled run's 'now', plan the refresh of unfinished children)."""
    if not has_children:
        return None
    from analytics_provider.fanout.child_keys import prune_keys

    def after(sql: Any) -> Any:
        prune_keys(sql, resource.keys_table, datetime.now(timezone.utc))
        return None if reference is None else refresh_for(resource, sql, reference(), log)

    return after
