"""Parent rows -> the keys a child binds: each `bind` expression rendered against a row
(config/keys.py says what an expression may hold), distinct keys collected in first-seen order."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from analytics_provider.config.keys import FIELD, FILTERS, is_template


def render(expr: str, row: Mapping[str, Any]) -> Any:
    """The value of `expr` for `row`, or None when a field it needs is missing or null."""
    if not is_template(expr):
        return row.get(expr)
    missing = False

    def substitute(match: re.Match[str]) -> str:
        nonlocal missing
        value = row.get(match.group(1).strip())
        if value is None:
            missing = True
            return ""
        text = str(value)
        name = match.group(2)
        return FILTERS[name.strip()](text) if name else text

    rendered = FIELD.sub(substitute, expr)
    return None if missing else rendered


def child_key_values(
    bind: Mapping[str, str],
    rows: Iterable[Mapping[str, Any]],
    only_if: Mapping[str, Iterable[Any]] | None = None,
) -> tuple[list[tuple[Any, ...]], int]:
    """Distinct keys for a child as tuples of their values in `bind` order, in first-seen order, and
    how many rows lacked a bound field. Rows not matching `only_if` (field -> allowed values) are
    left out without counting. (Tuples: a dict per key takes twice the memory at 1M keys.)"""
    seen: set[tuple[Any, ...]] = set()
    keys: list[tuple[Any, ...]] = []
    skipped = 0
    allowed = {name: set(values) for name, values in (only_if or {}).items()}
    exprs = list(bind.values())
    for row in rows:
        if any(row.get(name) not in values for name, values in allowed.items()):
            continue
        key = tuple(render(expr, row) for expr in exprs)
        if any(v is None for v in key):
            skipped += 1
            continue
        if key not in seen:
            seen.add(key)
            keys.append(key)
    return keys, skipped
