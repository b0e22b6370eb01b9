"""Parent keys: how a parent row becomes the values a child binds into its path and params.

A `bind` value is either a field name of the parent row (`id`) or a template of fields with
optional filters (`{vcs_type|vcs_slug}/{username}/{reponame}`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

_FIELD = re.compile(r"\{([^{}|]+)(?:\|([^{}]+))?\}")

_VCS_SLUGS = {"github": "gh", "bitbucket": "bb"}

FILTERS: dict[str, Callable[[str], str]] = {
    "vcs_slug": lambda value: _VCS_SLUGS.get(value.lower(), value.lower()),
}


def is_template(expr: str) -> bool:
    return "{" in expr


def template_fields(expr: str) -> list[tuple[str, str | None]]:
    """(field, filter) pairs of a bind expression; a bare field name is one pair."""
    if not is_template(expr):
        return [(expr, None)]
    return [(m.group(1).strip(), m.group(2).strip() if m.group(2) else None) for m in _FIELD.finditer(expr)]


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

    rendered = _FIELD.sub(substitute, expr)
    return None if missing else rendered


def child_keys(bind: Mapping[str, str], rows: Iterable[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """Distinct key dicts for a child, in first-seen order, and how many rows lacked a bound field."""
    seen: set[tuple[Any, ...]] = set()
    keys: list[dict[str, Any]] = []
    skipped = 0
    for row in rows:
        key = {name: render(expr, row) for name, expr in bind.items()}
        if any(v is None for v in key.values()):
            skipped += 1
            continue
        ident = tuple(key[name] for name in bind)
        if ident not in seen:
            seen.add(ident)
            keys.append(key)
    return keys, skipped
