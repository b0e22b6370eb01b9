"""Compile one spec resource (and, for a child, one batch of parent keys) into a dlt REST API source.

Three shapes, all built on `rest_api_source`:
- a root resource: one REST resource;
- an incremental child (pipelines per org): one REST resource per parent key, so each key keeps
  its own cursor and stops paging on its own once past the window (dlt closes a resource on the
  first row older than the window only when it has no parent);
- any other child: a small dlt resource yielding the batch of keys, and the REST resource as its
  dependent, fetched in parallel; carried key values become columns of the child rows.

A resource with children also writes, in the same load, what its children bind of each row to
`_analytics_keys_<table>` (see child_keys.py): no key list is held in memory or sent via XCom.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import dlt
import pendulum
from dlt.common.jsonpath import compile_path
from dlt.extract import DltResource, DltSource
from dlt.extract.incremental import IncrementalResourceWrapper
from dlt.sources.rest_api import rest_api_source
from requests import Session

from analytics_provider.child_keys import KEYS_COLUMNS, keys_table, recorded_fields, recorded_page
from analytics_provider.dlt_source.paginators import create_paginator
from analytics_provider.dlt_source.progress import Progress
from analytics_provider.dlt_source.responses import RequestStats, make_response_hook
from analytics_provider.hooks.analytics_api import ApiSettings
from analytics_provider.spec.model import ResourceSpec, Spec
from analytics_provider.window import LoadWindow

KEYS_RESOURCE = "parent_keys"
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass
class BuiltSource:
    """The source plus what the operator reads back after the run."""

    source: DltSource
    stats: RequestStats


def source_name(dataset: str, resource: str) -> str:
    return f"{dataset}_{resource}"


def build_source(
    spec: Spec,
    resource: ResourceSpec,
    *,
    settings: ApiSettings,
    session: Session,
    dataset: str,
    window: LoadWindow,
    parent_keys: list[dict[str, Any]] | None = None,
    org_slugs: tuple[str, ...] = (),
    state: dict[str, Any] | None = None,
) -> BuiltSource:
    """`state` is the dlt pipeline state restored from the destination: an incremental resource
    with a stored cursor continues from it (minus the lookback), whatever the window start."""
    cursors = stored_cursors(state or {}, source_name(dataset, resource.name), resource)
    stats = RequestStats(Progress(resource.name, len(parent_keys) if parent_keys else None))
    hook = make_response_hook(
        resource.name, settings, stats, resource.endpoint.not_found == "empty", resource.endpoint.path
    )
    client = {
        "base_url": settings.base_url,
        "headers": dict(spec.client.headers),
        "session": session,
    }
    per_key: dict[str, dict[str, Any]] = {}
    if resource.parent is None:
        entries: list[Any] = [
            _rest_entry(
                spec,
                resource,
                window,
                resource.name,
                resource.endpoint.path,
                dict(resource.endpoint.params),
                hook,
                resource.name in cursors,
            )
        ]
    elif resource.incremental is not None:
        per_key = {_key_resource_name(resource, key): key for key in parent_keys or []}
        entries = [
            _rest_entry(spec, resource, window, name, *_bound(resource, key), hook, name in cursors)
            for name, key in per_key.items()
        ]
    else:
        entries = _dependent_entries(spec, resource, window, parent_keys or [], hook)
        per_key = {}
    source = rest_api_source({"client": client, "resources": entries}, name=source_name(dataset, resource.name))
    fields = recorded_fields(spec, resource)
    for res in list(source.resources.values()):
        if res.name == KEYS_RESOURCE:
            continue
        _add_steps(resource, res, window, per_key.get(res.name))
        if resource.org_field and org_slugs:
            res.add_filter(_org_filter(resource.org_field, org_slugs), insert_at=1)
        if resource.fields:  # first, so every later step sees the columns
            res.add_map(_project_fields(resource.fields), insert_at=1)
        if fields:
            source.resources.add(_record_keys(res, fields, keys_table(resource.table)))
    return BuiltSource(source, stats)


def _record_keys(res: DltResource, fields: list[str], table: str) -> DltResource:
    """A transformer fed with the pages `res` yields (after its filters) that writes their projection
    onto `fields` to `table`, one row a page, in the same load as the rows: what the children's plan
    tasks read."""

    def project(items: Any) -> Iterable[dict[str, Any]]:
        rows = items if isinstance(items, list) else [items]
        if rows:
            yield recorded_page(rows, fields)

    return dlt.transformer(
        project,
        data_from=res,
        name=f"{res.name}__keys",
        table_name=table,
        write_disposition="append",
        columns=KEYS_COLUMNS,
    )


def _rest_entry(
    spec: Spec,
    resource: ResourceSpec,
    window: LoadWindow,
    name: str,
    path: str,
    params: dict[str, Any],
    hook: Callable[..., Any],
    has_cursor: bool = False,
) -> dict[str, Any]:
    endpoint: dict[str, Any] = {
        "path": path,
        "params": params,
        # compiled once here: dlt compiles a string selector again for every page
        "data_selector": compile_path(resource.endpoint.data_selector or "$"),
        "paginator": create_paginator(resource.endpoint.paginator or spec.client.paginator),
        "response_actions": [hook],
    }
    if resource.incremental is not None:
        endpoint["incremental"] = _incremental_config(resource, window, has_cursor)
    entry: dict[str, Any] = {
        "name": name,
        "endpoint": endpoint,
        "primary_key": list(resource.primary_key),
        "write_disposition": resource.write_disposition,
        "table_name": resource.table,
    }
    if resource.merge_key:
        entry["merge_key"] = list(resource.merge_key)
    if resource.columns:
        entry["columns"] = resource.columns
    return entry


def _bound(resource: ResourceSpec, key: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The endpoint's path (values URL-quoted; a slug keeps its `/`) and params for one parent key."""
    path = _PLACEHOLDER.sub(lambda m: quote(str(key[m.group(1)]), safe="/"), resource.endpoint.path)
    params = {k: _PLACEHOLDER.sub(lambda m: str(key[m.group(1)]), v) for k, v in resource.endpoint.params.items()}
    return path, params


def _key_resource_name(resource: ResourceSpec, key: dict[str, Any]) -> str:
    """A stable resource name per parent key: dlt keeps the incremental cursor under it."""
    ident = "_".join(str(key[name]) for name in sorted(key))
    return f"{resource.name}__{re.sub(r'[^A-Za-z0-9]+', '_', ident).strip('_').lower()}"


def _project_fields(fields: dict[str, str]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Each record as exactly the `fields` columns (a missing path gives None), plus the parent
    values dlt's `include_from_parent` put on it (renamed by the carry step after this one)."""
    paths = {column: tuple(source.split(".")) for column, source in fields.items()}
    carried = f"_{KEYS_RESOURCE}_"

    def dig(row: Any, path: tuple[str, ...]) -> Any:
        for part in path:
            if not isinstance(row, dict):
                return None
            row = row.get(part)
        return row

    def project(row: dict[str, Any]) -> dict[str, Any]:
        out = {column: dig(row, path) for column, path in paths.items()}
        out.update((k, v) for k, v in row.items() if k.startswith(carried))
        return out

    return project


def _org_filter(field_name: str, org_slugs: tuple[str, ...]) -> Callable[[dict[str, Any]], bool]:
    wanted = frozenset(org_slugs)
    return lambda row: row.get(field_name) in wanted


def _dependent_entries(
    spec: Spec,
    resource: ResourceSpec,
    window: LoadWindow,
    parent_keys: list[dict[str, Any]],
    hook: Callable[..., Any],
) -> list[Any]:
    batch = [dict(k) for k in parent_keys]

    @dlt.resource(name=KEYS_RESOURCE, selected=False)
    def parent_keys_resource() -> Iterable[dict[str, Any]]:
        yield batch

    def to_dlt_placeholder(text: str) -> str:
        return _PLACEHOLDER.sub(lambda m: f"{{resources.{KEYS_RESOURCE}.{m.group(1)}}}", text)

    entry = _rest_entry(
        spec,
        resource,
        window,
        resource.name,
        to_dlt_placeholder(resource.endpoint.path),
        {k: to_dlt_placeholder(v) for k, v in resource.endpoint.params.items()},
        hook,
    )
    entry["include_from_parent"] = list(resource.carry)
    entry["parallelized"] = True
    return [parent_keys_resource(), entry]


def _add_steps(resource: ResourceSpec, res: DltResource, window: LoadWindow, key: dict[str, Any] | None) -> None:
    """Carry parent values, parse the cursor before the incremental step, filter the window."""
    if resource.carry:
        res.add_map(_carry_from_key(resource, key) if key is not None else _carry_from_parent(resource))
    inc = resource.incremental
    if inc is not None:
        cursor = inc.cursor_path
        step_at = next(i for i, s in enumerate(res._pipe.steps) if isinstance(s, IncrementalResourceWrapper))
        res.add_map(lambda row: _parse_cursor(row, cursor), insert_at=step_at)
        if window.end is not None and window.start is not None:
            start = window.start
            res.add_filter(lambda row: row[cursor] >= start)


def _carry_from_key(resource: ResourceSpec, key: dict[str, Any]) -> Callable[[dict], dict]:
    values = {name: key[name] for name in resource.carry}

    def carry(row: dict[str, Any]) -> dict[str, Any]:
        row.update(values)
        return row

    return carry


def _carry_from_parent(resource: ResourceSpec) -> Callable[[dict], dict]:
    """dlt's `include_from_parent` names the columns `_<parent>_<field>`; rename them to `<field>`."""
    prefix = f"_{KEYS_RESOURCE}_"

    def rename(row: dict[str, Any]) -> dict[str, Any]:
        for name in resource.carry:
            if prefix + name in row:
                row[name] = row.pop(prefix + name)
        return row

    return rename


def stored_cursors(state: dict[str, Any], source: str, resource: ResourceSpec) -> set[str]:
    """Names of the dlt resources of `source` that have a stored incremental cursor."""
    if resource.incremental is None:
        return set()
    resources = state.get("sources", {}).get(source, {}).get("resources", {})
    cursor = resource.incremental.cursor_path
    return {
        name
        for name, res_state in resources.items()
        if (res_state.get("incremental", {}).get(cursor) or {}).get("last_value") is not None
    }


def _incremental_config(resource: ResourceSpec, window: LoadWindow, has_cursor: bool) -> dict[str, Any]:
    """dlt incremental settings for the window.

    An explicit window (end given) is stateless: read from `start - lookback` (the paging margin;
    a filter step then keeps exactly [start, end)) and leave the stored cursor alone. Otherwise
    the stored cursor minus `lookback` (dlt's `lag`) is the start — with no `initial_value`, which
    dlt would not let the lag cross, so a run after failed or skipped days still closes the gap —
    or `window.start` on the first run.
    """
    inc = resource.incremental
    assert inc is not None
    config: dict[str, Any] = {
        "cursor_path": inc.cursor_path,
        "row_order": inc.row_order,
        "range_start": "closed",
        "range_end": "open",
    }
    if window.end is not None:
        config["initial_value"] = (window.start or window.end) - inc.lookback
        config["end_value"] = window.end
    else:
        if not has_cursor:
            config["initial_value"] = window.start
        if inc.lookback:
            config["lag"] = inc.lookback.total_seconds()
    return config


def _parse_cursor(row: dict[str, Any], cursor: str) -> dict[str, Any]:
    """ISO strings (with or without milliseconds) -> datetimes, so dlt compares instants, not text."""
    value = row.get(cursor)
    if isinstance(value, str):
        try:
            row[cursor] = datetime.fromisoformat(value)  # C parser: Z suffix and fractions since 3.11
        except ValueError:
            row[cursor] = pendulum.parse(value)
    return row
