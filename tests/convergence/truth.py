"""A warehouse table compared with the emulator's truth by value: every scalar field of the served
objects (nested objects flattened as dlt does, `a__b`), times compared as instants."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from tests.reliability.helpers import Query

_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def flatten(row: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Scalars of `row` under dlt's column names; lists (child tables) left out."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        name = prefix + re.sub(r"[^a-z0-9_]", "_", key.lower())
        if isinstance(value, dict):
            out.update(flatten(value, name + "__"))
        elif not isinstance(value, list):
            out[name] = value
    return out


def norm(value: Any) -> Any:
    """A value as compared: ISO times and datetimes as epoch milliseconds."""
    if isinstance(value, str) and _ISO.match(value):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        return round(value.timestamp() * 1000)
    return value


def assert_equals_truth(query: Query, table: str, key: tuple[str, ...], truth: list[dict[str, Any]]) -> int:
    """The table holds exactly the truth's keys, once each, with the truth's value in every column."""
    info = "information_schema.columns WHERE table_schema = 'analytics'"
    columns = [r[0] for r in query(f"SELECT column_name FROM {info} AND table_name = '{table}'")]
    columns = [c for c in columns if not c.startswith("_dlt")]
    rows = query(f"SELECT {', '.join(columns)} FROM analytics.{table}")
    loaded = [dict(zip(columns, row, strict=True)) for row in rows]
    keys = [tuple(r[k] for k in key) for r in loaded]
    assert len(keys) == len(set(keys)), f"{table}: {len(keys) - len(set(keys))} duplicate keys"
    expected = {tuple(t[k] for k in key): flatten(t) for t in truth}
    missing, extra = set(expected) - set(keys), set(keys) - set(expected)
    assert not missing and not extra, (
        f"{table}: {len(missing)} missing (e.g. {sorted(missing)[:2]}), {len(extra)} extra"
    )
    wrong = []
    for row in loaded:
        want = expected[tuple(row[k] for k in key)]
        for name, value in want.items():
            got = row.get(name)
            if norm(got) != norm(value):
                wrong.append((table, tuple(row[k] for k in key), name, got, value))
    assert not wrong, f"{table}: {len(wrong)} values differ from the API, e.g. {wrong[:3]}"
    return len(loaded)
