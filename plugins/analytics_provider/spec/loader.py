"""Load and validate a resource spec YAML into the typed `Spec`.

Validation is whole and strict: unknown keys, placeholders with no source, unknown paginator
types, parents that do not exist and cycles all fail here, with the file and the key path named.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from analytics_provider.exceptions import SpecError
from analytics_provider.spec import keys
from analytics_provider.spec.model import (
    AuthSpec,
    ClientSpec,
    DagSpec,
    EndpointSpec,
    ErrorHandlerSpec,
    IncrementalSpec,
    PaginatorSpec,
    RefreshSpec,
    ResourceSpec,
    Spec,
)

DEFAULT_SPEC = Path(__file__).with_name("analytics_api.yaml")

_TOP_KEYS = {"version", "client", "resource_defaults", "resources", "dags"}
_CLIENT_KEYS = {"base_url", "headers", "auth", "paginator", "error_handler"}
_AUTH_KEYS = {"type", "name", "location"}
_PAGINATOR_TYPES = {"cursor": {"type", "cursor_param", "cursor_path"}, "single_page": {"type"}}
_ERROR_HANDLER_KEYS = {"retry_on_status_codes", "max_retries", "backoff_factor", "max_retry_delay"}
_RESOURCE_KEYS = {
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
_DAG_KEYS = {"dag_id", "description", "schedule", "resources"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class _Ctx:
    """Carries the file name so every error names it."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, message: str) -> SpecError:
        return SpecError(self.source, path, message)

    def mapping(self, value: Any, path: str, allowed: set[str], required: set[str] = frozenset()) -> dict:
        if not isinstance(value, Mapping):
            raise self.fail(path, f"expected a mapping, got {type(value).__name__}")
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise self.fail(path, f"unknown key(s) {_ticks(unknown)}; allowed: {_ticks(sorted(allowed))}")
        missing = sorted(required - set(value))
        if missing:
            raise self.fail(path, f"missing required key(s) {_ticks(missing)}")
        return dict(value)

    def typed(self, value: Any, path: str, kind: type | tuple[type, ...], what: str) -> Any:
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise self.fail(path, f"expected {what}, got {value!r}")
        return value


def _ticks(names: list[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def parse_duration(value: Any) -> timedelta:
    """`90s`, `30m`, `1h`, `7d` or a number of seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"expected a duration of zero or more, got {value!r}")
        return timedelta(seconds=value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"expected a duration like `30m`, `1h` or `7d`, got {value!r}")
    return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})


@lru_cache(maxsize=16)
def load_spec(path: str | Path | None = None) -> Spec:
    """Load, validate and cache the spec at `path` (the shipped spec by default)."""
    file = Path(path) if path else DEFAULT_SPEC
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SpecError(str(file), "<file>", f"cannot read the spec: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise SpecError(str(file), "<file>", f"not valid YAML: {exc}") from None
    return parse_spec(raw, source=str(file))


def parse_spec(raw: Any, source: str = "<spec>") -> Spec:
    """Validate a spec given as parsed YAML. The input is not modified."""
    ctx = _Ctx(source)
    top = ctx.mapping(copy.deepcopy(raw), "<root>", _TOP_KEYS, {"client", "resources"})
    if top.get("version", 1) != 1:
        raise ctx.fail("version", f"unsupported version {top['version']!r}; this provider reads version 1")
    client = _client(ctx, top["client"])
    defaults = ctx.mapping(top.get("resource_defaults") or {}, "resource_defaults", _RESOURCE_KEYS - {"name"})
    items = ctx.typed(top["resources"], "resources", list, "a list of resources")
    resources: dict[str, ResourceSpec] = {}
    for i, item in enumerate(items):
        merged = {**defaults, **ctx.mapping(item, f"resources[{i}]", _RESOURCE_KEYS, {"name", "endpoint"})}
        resource = _resource(ctx, merged, f"resources[{i}]", client)
        if resource.name in resources:
            raise ctx.fail(f"resources[{i}].name", f"duplicate resource name `{resource.name}`")
        resources[resource.name] = resource
    _check_graph(ctx, resources)
    dags = _dags(ctx, top.get("dags") or [], resources)
    return Spec(source_file=Path(source), client=client, resources=resources, dags=dags)


def _client(ctx: _Ctx, raw: Any) -> ClientSpec:
    c = ctx.mapping(raw, "client", _CLIENT_KEYS, {"base_url"})
    auth = ctx.mapping(c.get("auth") or {}, "client.auth", _AUTH_KEYS)
    if auth.get("type", "api_key") != "api_key":
        raise ctx.fail("client.auth.type", f"unknown auth type `{auth['type']}`; allowed: `api_key`")
    location = auth.get("location", "header")
    if location not in ("header", "query"):
        raise ctx.fail("client.auth.location", f"expected `header` or `query`, got `{location}`")
    eh = ctx.mapping(c.get("error_handler") or {}, "client.error_handler", _ERROR_HANDLER_KEYS)
    codes = eh.get("retry_on_status_codes", [429])
    if not isinstance(codes, list) or not all(isinstance(x, int) and 400 <= x < 600 for x in codes):
        raise ctx.fail("client.error_handler.retry_on_status_codes", f"expected HTTP status codes, got {codes!r}")
    retries = eh.get("max_retries", 3)
    if not isinstance(retries, int) or isinstance(retries, bool) or not 0 <= retries <= 20:
        raise ctx.fail("client.error_handler.max_retries", f"expected an integer 0..20, got {retries!r}")
    factor = ctx.typed(eh.get("backoff_factor", 2), "client.error_handler.backoff_factor", (int, float), "a number")
    max_delay = ctx.typed(
        eh.get("max_retry_delay", 60), "client.error_handler.max_retry_delay", (int, float), "seconds"
    )
    headers = ctx.typed(c.get("headers") or {}, "client.headers", dict, "a mapping of header names to values")
    return ClientSpec(
        base_url=ctx.typed(c["base_url"], "client.base_url", str, "a URL"),
        headers={str(k): str(v) for k, v in headers.items()},
        auth=AuthSpec(name=str(auth.get("name", "api_key")), location=location),
        paginator=_paginator(ctx, c.get("paginator") or {"type": "cursor"}, "client.paginator"),
        error_handler=ErrorHandlerSpec(tuple(codes), retries, float(factor), float(max_delay)),
    )


def _paginator(ctx: _Ctx, raw: Any, path: str) -> PaginatorSpec:
    if not isinstance(raw, Mapping) or "type" not in raw:
        raise ctx.fail(path, "expected a mapping with a `type`")
    kind = raw["type"]
    if kind not in _PAGINATOR_TYPES:
        raise ctx.fail(f"{path}.type", f"unknown paginator type `{kind}`; allowed: {_ticks(sorted(_PAGINATOR_TYPES))}")
    p = ctx.mapping(raw, path, _PAGINATOR_TYPES[kind])
    return PaginatorSpec(**p)


def _resource(ctx: _Ctx, r: dict[str, Any], path: str, client: ClientSpec, variant_of: str = "") -> ResourceSpec:
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
                    f"unknown filter `{filt}` on `{field_name}`; allowed: {_ticks(sorted(keys.FILTERS))}",
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
            f"placeholder(s) {_ticks(unbound)} have no source ({where}); add them to `bind` with the "
            "parent field that supplies them",
        )
    unused = sorted(set(bind) - placeholders)
    if unused:
        raise ctx.fail(f"{path}.bind", f"{_ticks(unused)} bound but not used in the endpoint path or params")
    carry = tuple(ctx.typed(r.get("carry") or [], f"{path}.carry", list, "a list of bound placeholders"))
    not_bound = sorted(set(carry) - set(bind))
    if not_bound:
        raise ctx.fail(f"{path}.carry", f"{_ticks(not_bound)} not in `bind`; only bound values can be carried")
    only_if = ctx.typed(r.get("only_if") or {}, f"{path}.only_if", dict, "a mapping of parent field to values")
    if only_if and not parent:
        raise ctx.fail(f"{path}.only_if", "`only_if` filters parent rows and needs a `parent`")
    for key, values in only_if.items():
        ctx.typed(values, f"{path}.only_if.{key}", list, "a list of allowed values")
    skip_loaded = ctx.typed(r.get("skip_loaded") or {}, f"{path}.skip_loaded", dict, "a mapping of column to key")
    unknown_keys = sorted(set(skip_loaded.values()) - set(bind))
    if unknown_keys:
        raise ctx.fail(f"{path}.skip_loaded", f"{_ticks(unknown_keys)} not in `bind`; map table columns to bound keys")
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


def _api_v3(ctx: _Ctx, r: dict[str, Any], path: str, client: ClientSpec) -> ResourceSpec | None:
    """The resource as API v3 serves it: the base resource with the variant's keys replaced.

    The DAG is drawn once for every connection, so the variant keeps the task shape (a root, or a
    child that fetches its parent: one task either way) and the table's identity (primary key)."""
    if r.get("api_v3") is None:
        return None
    where = f"{path}.api_v3"
    override = ctx.mapping(r["api_v3"], where, _V3_KEYS, {"endpoint"})
    base = {k: v for k, v in r.items() if k not in ("api_v3", *_V3_KEYS)}
    variant = _resource(ctx, {**base, **override}, path, client, variant_of=where)
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


def _columns(ctx: _Ctx, raw: Any, path: str) -> tuple[str, ...]:
    """A column name or a list of them (an empty list: none)."""
    names = (raw,) if isinstance(raw, str) else tuple(raw) if isinstance(raw, list) else None
    if names is None or not all(isinstance(k, str) and k for k in names):
        raise ctx.fail(path, f"expected a column name or a list of them, got {raw!r}")
    return names


def _endpoint(ctx: _Ctx, raw: Any, path: str) -> EndpointSpec:
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
    paginator = _paginator(ctx, e["paginator"], f"{path}.paginator") if "paginator" in e else None
    return EndpointSpec(
        path=url_path,
        params={str(k): str(v) for k, v in params.items()},
        data_selector=selector,
        not_found=not_found,
        paginator=paginator,
    )


def _incremental(ctx: _Ctx, raw: Any, path: str) -> IncrementalSpec | None:
    if raw is None:
        return None
    i = ctx.mapping(raw, path, _INCREMENTAL_KEYS, {"cursor_path"})
    if i.get("row_order") not in (None, "asc", "desc"):
        raise ctx.fail(f"{path}.row_order", f"expected `asc` or `desc`, got `{i['row_order']}`")
    durations = _durations(ctx, i, path, ("lookback", "initial_lookback", "retention"))
    return IncrementalSpec(cursor_path=i["cursor_path"], row_order=i.get("row_order"), **durations)


def _durations(ctx: _Ctx, raw: dict[str, Any], path: str, names: tuple[str, ...]) -> dict[str, timedelta]:
    """The duration keys present in `raw`, parsed; a bad one fails naming `<path>.<key>`."""
    durations = {}
    for key in names:
        if key in raw:
            try:
                durations[key] = parse_duration(raw[key])
            except ValueError as exc:
                raise ctx.fail(f"{path}.{key}", str(exc)) from None
    return durations


def _refresh(ctx: _Ctx, raw: Any, path: str) -> RefreshSpec | None:
    if raw is None:
        return None
    f = ctx.mapping(raw, path, _REFRESH_KEYS, {"table", "parent_column", "final"})
    final = ctx.typed(f["final"], f"{path}.final", list, "a list of final status values")
    durations = _durations(ctx, f, path, ("lookback", "max_age", "orphan_max_age"))
    names = {k: str(f[k]) for k in ("table", "parent_column", "status_column", "created_column") if k in f}
    return RefreshSpec(final=tuple(str(v) for v in final), **names, **durations)


def _check_graph(ctx: _Ctx, resources: dict[str, ResourceSpec]) -> None:
    names = list(resources)
    for i, r in enumerate(resources.values()):
        if r.parent is not None and r.parent not in resources:
            raise ctx.fail(
                f"resources[{i}] (`{r.name}`).parent",
                f"unknown resource `{r.parent}`; known: {_ticks(sorted(names))}",
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
                f"unknown resource `{v3.parent}`; known: {_ticks(sorted(names))}",
            )
    for r in [*resources.values(), *(r.api_v3 for r in resources.values() if r.api_v3 is not None)]:
        parent = resources[r.parent] if r.fetch_parent and r.parent else None
        if parent is not None and (parent.parent is not None or parent.incremental is not None):
            raise ctx.fail(
                f"resources[{names.index(r.name)}] (`{r.name}`).fetch_parent",
                f"the parent `{parent.name}` is a child or incremental: its rows are read in windows or per key, "
                "so this task cannot read them whole; drop `fetch_parent`",
            )


SCHEDULE_PRESETS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
}


def _assets(ctx: _Ctx, schedule: Any, path: str, resources: dict[str, ResourceSpec]) -> tuple[str, ...]:
    """`{assets: [resource, ...]}`: the DAG runs when one of those resources' tables is updated."""
    s = ctx.mapping(schedule, path, {"assets"}, {"assets"})
    names = ctx.typed(s["assets"], f"{path}.assets", list, "a list of resource names")
    if not names:
        raise ctx.fail(f"{path}.assets", "expected at least one resource whose table update starts the DAG")
    for name in names:
        if name not in resources:
            raise ctx.fail(f"{path}.assets", f"unknown resource `{name}`")
    return tuple(dict.fromkeys(resources[name].table for name in names))


def _check_schedule(ctx: _Ctx, schedule: Any, path: str) -> None:
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
            f"`{text}` is not a cron expression, a preset ({_ticks(sorted(SCHEDULE_PRESETS))}) or `every <duration>`",
        )


def _dags(ctx: _Ctx, raw: Any, resources: dict[str, ResourceSpec]) -> tuple[DagSpec, ...]:
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
