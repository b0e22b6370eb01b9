"""Per-row steps added to a built REST resource: carried parent values, field projection, the org filter."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from analytics_provider.config.model import ResourceSpec
from analytics_provider.dlt_source.window import LoadWindow
from analytics_provider.exceptions import AnalyticsApiError

if TYPE_CHECKING:
    from dlt.extract import DltResource

KEYS_RESOURCE = "parent_keys"
"""The dlt resource that yields a dependent child's batch of keys (its values arrive on each row
as `_parent_keys_<name>`, dlt's `include_from_parent`)."""


def carry_from_key(resource: ResourceSpec, key: dict[str, Any]) -> Callable[[dict], dict]:
    values = {name: key[name] for name in resource.carry}

    def carry(row: dict[str, Any]) -> dict[str, Any]:
        row.update(values)
        return row

    return carry


def carry_from_parent(resource: ResourceSpec) -> Callable[[dict], dict]:
    """dlt's `include_from_parent` names the columns `_<parent>_<field>`; rename them to `<field>`."""
    prefix = f"_{KEYS_RESOURCE}_"

    def rename(row: dict[str, Any]) -> dict[str, Any]:
        for name in resource.carry:
            if prefix + name in row:
                row[name] = row.pop(prefix + name)
        return row

    return rename


def project_fields(
    fields: dict[str, str], required: tuple[str, ...] = (), resource: str = ""
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Each record as exactly the `fields` columns (a missing path gives None), plus the parent
    values dlt's `include_from_parent` put on it (renamed by the carry step after this one).

    A `required` column (the primary key) with no value fails the load, naming the path: the API
    answers in another shape than the spec's `fields` say, and merging rows without their key
    would mix them up."""
    paths = {column: tuple(source.split(".")) for column, source in fields.items()}
    carried = f"_{KEYS_RESOURCE}_"
    needed = [c for c in required if c in paths]

    def dig(row: Any, path: tuple[str, ...]) -> Any:
        for part in path:
            if not isinstance(row, dict):
                return None
            row = row.get(part)
        return row

    def project(row: dict[str, Any]) -> dict[str, Any]:
        out = {column: dig(row, path) for column, path in paths.items()}
        for column in needed:
            if out[column] is None:
                raise AnalyticsApiError(
                    f"Resource `{resource}`: a record has no `{fields[column]}` (column `{column}`, part of the "
                    f"primary key); it has {sorted(row)}. The API answers in another shape than the spec's "
                    "`fields`: fix them, or set the connection's extra `api_version` to `v2`.",
                    resource=resource,
                )
        out.update((k, v) for k, v in row.items() if k.startswith(carried))
        return out

    return project


def org_filter(field_name: str, org_slugs: tuple[str, ...]) -> Callable[[dict[str, Any]], bool]:
    wanted = frozenset(org_slugs)
    return lambda row: row.get(field_name) in wanted


def add_row_steps(
    resource: ResourceSpec,
    res: DltResource,
    window: LoadWindow,
    key: dict[str, Any] | None,
    org_slugs: tuple[str, ...],
) -> None:
    """In the order they run: the `fields` projection, the org filter, (dlt's incremental step),
    the carried parent values, the window filter. The cursor was parsed in the response hook."""
    if resource.carry:
        res.add_map(carry_from_key(resource, key) if key is not None else carry_from_parent(resource))
    inc = resource.incremental
    if inc is not None and window.end is not None and window.start is not None:
        cursor, start = inc.cursor_path, window.start
        res.add_filter(lambda row: row[cursor] >= start)
    if resource.org_field and org_slugs:
        res.add_filter(org_filter(resource.org_field, org_slugs), insert_at=1)
    if resource.fields:  # first, so every later step sees the columns
        res.add_map(project_fields(resource.fields, resource.primary_key, resource.name), insert_at=1)
