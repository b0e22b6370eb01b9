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
_VCS_HOSTS = {"github.com": "gh", "bitbucket.org": "bb", "circleci.com": "circleci"}


def _slug_from_vcs_url(url: str) -> str:
    """`https://github.com/acme/api` -> `gh/acme/api`; `https://circleci.com/<org>/<project>` ->
    `circleci/<org>/<project>` (the project slug v2 takes)."""
    rest = url.split("://", 1)[-1].lstrip("/")
    host, _, path = rest.partition("/")
    parts = [p for p in path.split("/") if p]
    prefix = _VCS_HOSTS.get(host.lower(), host.lower())
    return "/".join([prefix, *parts[-2:]])


FILTERS: dict[str, Callable[[str], str]] = {
    "vcs_slug": lambda value: _VCS_SLUGS.get(value.lower(), value.lower()),
    "project_slug": _slug_from_vcs_url,
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
