"""What a parent's load records of each row for its children: the fields they bind or filter on,
one keys-table row (`_analytics_keys_<parent table>`) per page of parent rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from analytics_provider.config.model import ResourceSpec, Spec

KEYS_COLUMN = "keys"
KEYS_COLUMNS: dict[str, Any] = {KEYS_COLUMN: {"data_type": "json"}}
"""dlt column hints of a keys table: the list stays one JSON value (no nested table)."""


def recorded_fields(spec: Spec, resource: ResourceSpec) -> list[str]:
    """What a load of `resource` records of each row: every field one of its children needs."""
    fields: list[str] = []
    for child in spec.children(resource.name):
        fields += [f for f in child.reads if f not in fields]
    return fields


def recorded_page(rows: Sequence[Mapping[str, Any]], fields: Sequence[str]) -> dict[str, Any]:
    """The keys-table row for one page of parent rows: their projection onto `fields`."""
    return {KEYS_COLUMN: [{f: row.get(f) for f in fields} for row in rows]}
