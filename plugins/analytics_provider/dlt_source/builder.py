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
from typing import Any
from urllib.parse import quote

import dlt
from dlt.common.jsonpath import compile_path
from dlt.extract import DltResource, DltSource
from dlt.sources.rest_api import rest_api_source
from requests import Session

from analytics_provider.config.key_records import KEYS_COLUMNS, recorded_page
from analytics_provider.config.model import ClientSpec, ResourceSpec
from analytics_provider.dlt_source.incremental import cursor_parser, incremental_config, stored_cursors
from analytics_provider.dlt_source.paginators import create_paginator
from analytics_provider.dlt_source.progress import Progress
from analytics_provider.dlt_source.responses import RequestStats, make_response_hook
from analytics_provider.dlt_source.row_steps import KEYS_RESOURCE, add_row_steps
from analytics_provider.dlt_source.window import LoadWindow
from analytics_provider.hooks.analytics_api import ApiSettings

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class SourceArgs:
    """What every source a task builds shares, beside its resource: the connection's settings and
    session, the spec's client block, the dataset, the orgs to keep."""

    settings: ApiSettings
    session: Session
    client: ClientSpec
    dataset: str
    org_slugs: tuple[str, ...] = ()


@dataclass
class BuiltSource:
    """The source plus what the operator reads back after the run."""

    source: DltSource
    stats: RequestStats


def source_name(dataset: str, resource: str) -> str:
    return f"{dataset}_{resource}"


@dataclass
class CompiledSource:
    """A resource's dlt `rest_api` config for one run, before dlt turns it into resources."""

    config: dict[str, Any]
    """`{"client": ..., "resources": [...]}`, as `rest_api_source` takes it."""
    per_key: dict[str, dict[str, Any]]
    """An incremental child's REST resource name -> the parent key it reads (carried values)."""


def compile_source(
    client: ClientSpec,
    resource: ResourceSpec,
    *,
    base_url: str,
    session: Session | None,
    window: LoadWindow,
    hook: Callable[..., Any],
    parent_keys: list[dict[str, Any]] | None = None,
    cursors: set[str] = frozenset(),
) -> CompiledSource:
    """The compile step: spec resource + window + parent keys -> dlt's declarative config. Plain
    data but for the `hook` and paginator objects; nothing is requested (tests/dlt_source)."""
    per_key: dict[str, dict[str, Any]] = {}
    if resource.parent is None:
        params = dict(resource.endpoint.params)
        entries: list[Any] = [
            _rest_entry(
                client, resource, window, resource.name, resource.endpoint.path, params, hook, resource.name in cursors
            )
        ]
    elif resource.incremental is not None:
        per_key = {_key_resource_name(resource, key): key for key in parent_keys or []}
        entries = [
            _rest_entry(client, resource, window, name, *_bound(resource, key), hook, name in cursors)
            for name, key in per_key.items()
        ]
    else:
        entries = _dependent_entries(client, resource, window, parent_keys or [], hook)
    config = {"base_url": base_url, "headers": dict(client.headers), "session": session}
    return CompiledSource({"client": config, "resources": entries}, per_key)


def build_source(
    resource: ResourceSpec,
    api: SourceArgs,
    *,
    window: LoadWindow,
    records: list[str] | tuple[str, ...] = (),
    parent_keys: list[dict[str, Any]] | None = None,
    state: dict[str, Any] | None = None,
) -> BuiltSource:
    """The compiled config as a dlt source with its row steps, ready to extract. `records`: the
    fields of each row its children need, written to its keys table in the same load. `state` is
    the dlt pipeline state restored from the destination: an incremental resource with a stored
    cursor continues from it (minus the lookback), whatever the window start."""
    cursors = stored_cursors(state or {}, source_name(api.dataset, resource.name), resource)
    stats = RequestStats(Progress(resource.name, len(parent_keys) if parent_keys else None))
    inc = resource.incremental
    selector = compile_path(resource.endpoint.data_selector or "$")
    hook = make_response_hook(
        resource.name,
        api.settings,
        stats,
        resource.endpoint.not_found == "empty",
        resource.endpoint.path,
        on_body=cursor_parser(selector, inc.cursor_path) if inc is not None else None,
    )
    compiled = compile_source(
        api.client,
        resource,
        base_url=api.settings.base_url,
        session=api.session,
        window=window,
        hook=hook,
        parent_keys=parent_keys,
        cursors=cursors,
    )
    source = rest_api_source(compiled.config, name=source_name(api.dataset, resource.name))
    for res in list(source.resources.values()):
        if res.name == KEYS_RESOURCE:
            continue
        add_row_steps(resource, res, window, compiled.per_key.get(res.name), api.org_slugs)
        if records:
            source.resources.add(_record_keys(res, list(records), resource.keys_table))
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
    client: ClientSpec,
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
        "paginator": create_paginator(resource.endpoint.paginator or client.paginator),
        "response_actions": [hook],
    }
    if resource.incremental is not None:
        endpoint["incremental"] = incremental_config(resource, window, has_cursor)
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


def _dependent_entries(
    client: ClientSpec,
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
        client,
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
