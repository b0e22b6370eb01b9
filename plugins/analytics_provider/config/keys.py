"""Parent keys: how a parent row becomes the values a child binds into its path and params.

A `bind` value is either a field name of the parent row (`id`) or a template of fields with
optional filters (`{vcs_type|vcs_slug}/{username}/{reponame}`).
"""

from __future__ import annotations

import re
from collections.abc import Callable

FIELD = re.compile(r"\{([^{}|]+)(?:\|([^{}]+))?\}")

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
    return [(m.group(1).strip(), m.group(2).strip() if m.group(2) else None) for m in FIELD.finditer(expr)]
