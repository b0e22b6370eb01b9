"""The `dags:` block: which resources each DAG holds, and when it runs (a schedule or assets)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from analytics_provider.config.model import DagSpec, ResourceSpec
from analytics_provider.config.validation import Ctx, parse_duration, ticks

_DAG_KEYS = {"dag_id", "description", "schedule", "resources"}

SCHEDULE_PRESETS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
}


def _assets(ctx: Ctx, schedule: Any, path: str, resources: dict[str, ResourceSpec]) -> tuple[str, ...]:
    """`{assets: [resource, ...]}`: the DAG runs when one of those resources' tables is updated."""
    s = ctx.mapping(schedule, path, {"assets"}, {"assets"})
    names = ctx.typed(s["assets"], f"{path}.assets", list, "a list of resource names")
    if not names:
        raise ctx.fail(f"{path}.assets", "expected at least one resource whose table update starts the DAG")
    for name in names:
        if name not in resources:
            raise ctx.fail(f"{path}.assets", f"unknown resource `{name}`")
    return tuple(dict.fromkeys(resources[name].table for name in names))


def _check_schedule(ctx: Ctx, schedule: Any, path: str) -> None:
    """A preset, a cron expression, or `every <duration>` (a fixed interval)."""
    text = str(schedule).strip()
    if text.startswith("every "):
        try:
            if parse_duration(text.removeprefix("every ")) <= timedelta(0):
                raise ValueError("the interval must be longer than zero")
        except ValueError as exc:
            raise ctx.fail(path, f"bad interval `{text}`: {exc}") from None
        return
    from croniter import croniter

    if not croniter.is_valid(SCHEDULE_PRESETS.get(text, text)):
        raise ctx.fail(
            path,
            f"`{text}` is not a cron expression, a preset ({ticks(sorted(SCHEDULE_PRESETS))}) or `every <duration>`",
        )


def parse_dags(ctx: Ctx, raw: Any, resources: dict[str, ResourceSpec]) -> tuple[DagSpec, ...]:
    items = ctx.typed(raw, "dags", list, "a list of DAGs")
    dags: list[DagSpec] = []
    owner: dict[str, str] = {}
    for i, item in enumerate(items):
        d = ctx.mapping(item, f"dags[{i}]", _DAG_KEYS, {"dag_id", "schedule", "resources"})
        dag_id = d["dag_id"]
        if not isinstance(dag_id, str) or not re.match(r"^[A-Za-z0-9_.-]+$", dag_id):
            raise ctx.fail(f"dags[{i}].dag_id", f"expected letters, digits, `_`, `.` or `-`, got {dag_id!r}")
        names = d["resources"]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ctx.fail(f"dags[{i}] (`{dag_id}`).resources", f"expected a list of resource names, got {names!r}")
        where = f"dags[{i}] (`{dag_id}`).schedule"
        assets = _assets(ctx, d["schedule"], where, resources) if isinstance(d["schedule"], Mapping) else ()
        if not assets:
            _check_schedule(ctx, d["schedule"], where)
        for name in names:
            if name not in resources:
                raise ctx.fail(f"dags[{i}] (`{dag_id}`).resources", f"unknown resource `{name}`")
            if name in owner:
                raise ctx.fail(f"dags[{i}] (`{dag_id}`).resources", f"`{name}` is already in `{owner[name]}`")
            owner[name] = dag_id
        for name in d["resources"]:
            parent = resources[name].parent
            if parent is not None and parent not in d["resources"] and not resources[name].fetch_parent:
                raise ctx.fail(
                    f"dags[{i}] (`{dag_id}`).resources",
                    f"`{name}` needs its parent `{parent}` in the same DAG to get its keys (or `fetch_parent`)",
                )
        dags.append(
            DagSpec(
                dag_id=dag_id,
                schedule="" if assets else str(d["schedule"]),
                assets=assets,
                resources=tuple(d["resources"]),
                description=str(d.get("description", "")).strip(),
            )
        )
    return tuple(dags)
