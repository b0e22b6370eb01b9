"""One `resources:` entry -> a `ResourceSpec` (its `api_v3` variant included), and the checks across
resources: parents that exist, no cycles, fetchable parents."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from analytics_provider.config import keys
from analytics_provider.config.model import (
    ClientSpec,
    EndpointSpec,
    IncrementalSpec,
    PaginatorSpec,
    RefreshSpec,
    ResourceSpec,
)
from analytics_provider.config.validation import Ctx, durations, ticks

_PAGINATOR_TYPES = {"cursor": {"type", "cursor_param", "cursor_path"}, "single_page": {"type"}}
RESOURCE_KEYS = {
    "name", "description", "endpoint", "primary_key", "write_disposition", "parent", "bind",
    "carry", "only_if", "incremental", "refresh", "skip_loaded", "org_field", "columns", "table_name", "batch_size",
    "fetch_parent", "skip_final", "merge_key", "fields", "api_v3",
}  # fmt: skip
#: What an `api_v3` variant may change: where and how the rows are read, never the table they land in.
_V3_KEYS = {"endpoint", "parent", "bind", "carry", "fetch_parent", "fields", "org_field", "description"}
_ENDPOINT_KEYS = {"path", "params", "data_selector", "not_found", "paginator"}
_INCREMENTAL_KEYS = {"cursor_path", "row_order", "lookback", "initial_lookback", "retention"}
_REFRESH_KEYS = {
    "table",
    "parent_column",
    "final",
    "status_column",
    "created_column",
    "lookback",
    "max_age",
    "orphan_max_age",
}
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def parse_paginator(ctx: Ctx, raw: Any, path: str) -> PaginatorSpec:
    if not isinstance(raw, Mapping) or "type" not in raw:
        raise ctx.fail(path, "expected a mapping with a `type`")
    kind = raw["type"]
    if kind not in _PAGINATOR_TYPES:
        raise ctx.fail(f"{path}.type", f"unknown paginator type `{kind}`; allowed: {ticks(sorted(_PAGINATOR_TYPES))}")
    p = ctx.mapping(raw, path, _PAGINATOR_TYPES[kind])
    return PaginatorSpec(**p)


def parse_resource(ctx: Ctx, r: dict[str, Any], path: str, client: ClientSpec, variant_of: str = "") -> ResourceSpec:
    name = r["name"]
    if not isinstance(name, str) or not _NAME.match(name):
        raise ctx.fail(f"{path}.name", f"expected a lower-case identifier, got {name!r}")
    path = variant_of or f"{path} (`{name}`)"
    endpoint = _endpoint(ctx, r["endpoint"], f"{path}.endpoint")
    merge_key = _columns(ctx, r.get("merge_key", []), f"{path}.merge_key")
    pk = r.get("primary_key", "id")
    pk_tuple = _columns(ctx, pk, f"{path}.primary_key")
    if not pk_tuple and not merge_key:
        raise ctx.fail(
            f"{path}.primary_key",
            "expected a column name or a list of them; rows without an identity need a `merge_key` "
            "(each load then replaces every row of the merge-key values it brings)",
        )
    disposition = r.get("write_disposition", "merge")
    if disposition not in ("merge", "append", "replace"):
        raise ctx.fail(f"{path}.write_disposition", f"expected `merge`, `append` or `replace`, got `{disposition}`")
    if merge_key and disposition != "merge":
        raise ctx.fail(f"{path}.merge_key", f"a `merge_key` needs `write_disposition: merge`, not `{disposition}`")
    bind = {str(k): str(v) for k, v in ctx.typed(r.get("bind") or {}, f"{path}.bind", dict, "a mapping").items()}
    parent = r.get("parent")
    if bind and not parent:
        raise ctx.fail(f"{path}.bind", "`bind` needs a `parent` resource to take the values from")
    for placeholder, expr in bind.items():
        for field_name, filt in keys.template_fields(expr):
            if filt and filt not in keys.FILTERS:
                raise ctx.fail(
                    f"{path}.bind.{placeholder}",
                    f"unknown filter `{filt}` on `{field_name}`; allowed: {ticks(sorted(keys.FILTERS))}",
                )
    try:
        placeholders = endpoint.placeholders()
    except ValueError as exc:
        raise ctx.fail(f"{path}.endpoint", f"malformed placeholder in the path or params: {exc}") from None
    unbound = sorted(placeholders - set(bind))
    if unbound:
        where = f"parent `{parent}`" if parent else "no parent"
        raise ctx.fail(
            f"{path}.endpoint",
            f"placeholder(s) {ticks(unbound)} have no source ({where}); add them to `bind` with the "
            "parent field that supplies them",
        )
    unused = sorted(set(bind) - placeholders)
    if unused:
        raise ctx.fail(f"{path}.bind", f"{ticks(unused)} bound but not used in the endpoint path or params")
    carry = tuple(ctx.typed(r.get("carry") or [], f"{path}.carry", list, "a list of bound placeholders"))
    not_bound = sorted(set(carry) - set(bind))
    if not_bound:
        raise ctx.fail(f"{path}.carry", f"{ticks(not_bound)} not in `bind`; only bound values can be carried")
    only_if = ctx.typed(r.get("only_if") or {}, f"{path}.only_if", dict, "a mapping of parent field to values")
    if only_if and not parent:
        raise ctx.fail(f"{path}.only_if", "`only_if` filters parent rows and needs a `parent`")
    for key, values in only_if.items():
        ctx.typed(values, f"{path}.only_if.{key}", list, "a list of allowed values")
    skip_loaded = ctx.typed(r.get("skip_loaded") or {}, f"{path}.skip_loaded", dict, "a mapping of column to key")
    unknown_keys = sorted(set(skip_loaded.values()) - set(bind))
    if unknown_keys:
        raise ctx.fail(f"{path}.skip_loaded", f"{ticks(unknown_keys)} not in `bind`; map table columns to bound keys")
    if skip_loaded and r.get("incremental") is not None:
        raise ctx.fail(
            f"{path}.skip_loaded",
            "an `incremental` child reads the new rows of every parent key on each run: skipping a key "
            "already loaded would miss them; drop `skip_loaded` (or `incremental`)",
        )
    skip_final = ctx.typed(r.get("skip_final") or {}, f"{path}.skip_final", dict, "a mapping of column to values")
    if skip_final and not skip_loaded:
        raise ctx.fail(f"{path}.skip_final", "`skip_final` says when a loaded key is final: it needs `skip_loaded`")
    for key, values in skip_final.items():
        ctx.typed(values, f"{path}.skip_final.{key}", list, "a list of final values")
    refresh = _refresh(ctx, r.get("refresh"), f"{path}.refresh")
    if refresh is not None and r.get("incremental") is None:
        raise ctx.fail(f"{path}.refresh", "`refresh` works with an `incremental` resource's scheduled runs")
    batch_size = r.get("batch_size", 200)
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ctx.fail(f"{path}.batch_size", f"expected a positive integer, got {batch_size!r}")
    columns = ctx.typed(r.get("columns") or {}, f"{path}.columns", dict, "a mapping of column hints")
    fetch_parent = ctx.typed(r.get("fetch_parent", False), f"{path}.fetch_parent", bool, "true or false")
    if fetch_parent and not parent:
        raise ctx.fail(
            f"{path}.fetch_parent",
            "`fetch_parent` reads the parent's rows in this resource's own task: give it a `parent`, "
            "or drop `fetch_parent`",
        )
    fields = ctx.typed(r.get("fields") or {}, f"{path}.fields", dict, "a mapping of column to a dotted path")
    for column, source in fields.items():
        if not isinstance(source, str) or not source or any(not part for part in source.split(".")):
            raise ctx.fail(f"{path}.fields.{column}", f"expected a dotted path like `attributes.name`, got {source!r}")
    return ResourceSpec(
        name=name,
        endpoint=endpoint,
        fields={str(k): str(v) for k, v in fields.items()},
        api_v3=_api_v3(ctx, r, path, client),
        primary_key=pk_tuple,
        merge_key=merge_key,
        write_disposition=disposition,
        description=str(r.get("description", "")).strip(),
        parent=parent,
        bind=bind,
        carry=carry,
        only_if={str(k): tuple(v) for k, v in only_if.items()},
        incremental=_incremental(ctx, r.get("incremental"), f"{path}.incremental"),
        refresh=refresh,
        skip_loaded={str(k): str(v) for k, v in skip_loaded.items()},
        skip_final={str(k): tuple(v) for k, v in skip_final.items()},
        columns=columns,
        org_field=r.get("org_field"),
        table_name=r.get("table_name"),
        batch_size=batch_size,
        fetch_parent=fetch_parent,
    )


def _api_v3(ctx: Ctx, r: dict[str, Any], path: str, client: ClientSpec) -> ResourceSpec | None:
    """The resource as API v3 serves it: the base resource with the variant's keys replaced.

    The DAG is drawn once for every connection, so the variant keeps the task shape (a root, or a
    child that fetches its parent: one task either way) and the table's identity (primary key)."""
    if r.get("api_v3") is None:
        return None
    where = f"{path}.api_v3"
    override = ctx.mapping(r["api_v3"], where, _V3_KEYS, {"endpoint"})
    base = {k: v for k, v in r.items() if k not in ("api_v3", *_V3_KEYS)}
    variant = parse_resource(ctx, {**base, **override}, path, client, variant_of=where)
    endpoint_path = variant.endpoint.path
    if not endpoint_path.startswith("/v3/"):
        raise ctx.fail(f"{where}.endpoint.path", f"an `api_v3` variant reads a `/v3/...` path, got `{endpoint_path}`")
    for spec in ({"parent": r.get("parent"), "fetch_parent": r.get("fetch_parent", False)}, override):
        if spec.get("parent") and not spec.get("fetch_parent"):
            raise ctx.fail(
                where,
                "the resource and its `api_v3` variant must each be one task (a root, or a child with "
                "`fetch_parent`): the DAG is the same whichever API version a connection reads",
            )
    return variant


def _columns(ctx: Ctx, raw: Any, path: str) -> tuple[str, ...]:
    """A column name or a list of them (an empty list: none)."""
    names = (raw,) if isinstance(raw, str) else tuple(raw) if isinstance(raw, list) else None
    if names is None or not all(isinstance(k, str) and k for k in names):
        raise ctx.fail(path, f"expected a column name or a list of them, got {raw!r}")
    return names


def _endpoint(ctx: Ctx, raw: Any, path: str) -> EndpointSpec:
    if isinstance(raw, str):
        raw = {"path": raw}
    e = ctx.mapping(raw, path, _ENDPOINT_KEYS, {"path"})
    url_path = ctx.typed(e["path"], f"{path}.path", str, "a path like `/v2/pipeline`")
    if not url_path.startswith("/"):
        raise ctx.fail(f"{path}.path", f"expected a path starting with `/`, got `{url_path}`")
    params = ctx.typed(e.get("params") or {}, f"{path}.params", dict, "a mapping of query params")
    selector = e.get("data_selector")
    if selector == [] or selector in ("$", None):
        selector = None  # the seed's `[]`: the whole response
    elif not isinstance(selector, str):
        raise ctx.fail(f"{path}.data_selector", f"expected a JSONPath string or `[]`, got {selector!r}")
    not_found = e.get("not_found", "fail")
    if not_found not in ("fail", "empty"):
        raise ctx.fail(f"{path}.not_found", f"expected `fail` or `empty`, got `{not_found}`")
    paginator = parse_paginator(ctx, e["paginator"], f"{path}.paginator") if "paginator" in e else None
    return EndpointSpec(
        path=url_path,
        params={str(k): str(v) for k, v in params.items()},
        data_selector=selector,
        not_found=not_found,
        paginator=paginator,
    )


def _incremental(ctx: Ctx, raw: Any, path: str) -> IncrementalSpec | None:
    if raw is None:
        return None
    i = ctx.mapping(raw, path, _INCREMENTAL_KEYS, {"cursor_path"})
    if i.get("row_order") not in (None, "asc", "desc"):
        raise ctx.fail(f"{path}.row_order", f"expected `asc` or `desc`, got `{i['row_order']}`")
    spans = durations(ctx, i, path, ("lookback", "initial_lookback", "retention"))
    return IncrementalSpec(cursor_path=i["cursor_path"], row_order=i.get("row_order"), **spans)


def _refresh(ctx: Ctx, raw: Any, path: str) -> RefreshSpec | None:
    if raw is None:
        return None
    f = ctx.mapping(raw, path, _REFRESH_KEYS, {"table", "parent_column", "final"})
    final = ctx.typed(f["final"], f"{path}.final", list, "a list of final status values")
    spans = durations(ctx, f, path, ("lookback", "max_age", "orphan_max_age"))
    names = {k: str(f[k]) for k in ("table", "parent_column", "status_column", "created_column") if k in f}
    return RefreshSpec(final=tuple(str(v) for v in final), **names, **spans)


def check_graph(ctx: Ctx, resources: dict[str, ResourceSpec]) -> None:
    names = list(resources)
    for i, r in enumerate(resources.values()):
        if r.parent is not None and r.parent not in resources:
            raise ctx.fail(
                f"resources[{i}] (`{r.name}`).parent",
                f"unknown resource `{r.parent}`; known: {ticks(sorted(names))}",
            )
    for r in resources.values():
        chain, node = [r.name], r.parent
        while node is not None:
            if node in chain:
                cycle = " -> ".join([*chain[chain.index(node) :], node])
                raise ctx.fail(f"resources[{names.index(r.name)}] (`{r.name}`).parent", f"cycle: {cycle}")
            chain.append(node)
            node = resources[node].parent
    for i, r in enumerate(resources.values()):
        v3 = r.api_v3
        if v3 is not None and v3.parent is not None and v3.parent not in resources:
            raise ctx.fail(
                f"resources[{i}] (`{r.name}`).api_v3.parent",
                f"unknown resource `{v3.parent}`; known: {ticks(sorted(names))}",
            )
    for r in [*resources.values(), *(r.api_v3 for r in resources.values() if r.api_v3 is not None)]:
        parent = resources[r.parent] if r.fetch_parent and r.parent else None
        if parent is not None and (parent.parent is not None or parent.incremental is not None):
            raise ctx.fail(
                f"resources[{names.index(r.name)}] (`{r.name}`).fetch_parent",
                f"the parent `{parent.name}` is a child or incremental: its rows are read in windows or per key, "
                "so this task cannot read them whole; drop `fetch_parent`",
            )
