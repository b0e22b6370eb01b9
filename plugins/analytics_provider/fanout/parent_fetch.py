"""A `fetch_parent` child's keys: its parent's rows read from the API in the child's own task.

The parent is a root list (the orgs of the key: one request), so reading it again costs less
than waiting for the parent's task to load it: the child, and every fan-out below it, starts
with the DAG run instead of after the parent's task (bench/fanout.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from analytics_provider.config.model import ResourceSpec
from analytics_provider.dlt_source.builder import SourceArgs, build_source
from analytics_provider.dlt_source.window import LoadWindow
from analytics_provider.fanout.child_keys import distinct_keys

log = logging.getLogger(__name__)


def fetch_parent_keys(
    child: ResourceSpec, parents: Sequence[ResourceSpec], api: SourceArgs, window: LoadWindow
) -> tuple[list[dict[str, Any]], int]:
    """The distinct keys `child` loads, from its parent's rows as the API lists them now (the org
    filter applied, as in the parent's own load), in the order batches use; and the requests made.
    `parents`: the child's parent, then that parent's parent while each reads its own parent from
    the API (v3 `projects`: per org), as the connection's API version reads them."""
    assert parents, f"`{child.name}` has no parent to fetch"
    top_down = list(reversed(parents))
    keys: list[dict[str, Any]] | None = None
    made = 0
    for parent, below in zip(top_down, [*top_down[1:], child], strict=True):
        built = build_source(parent, api=api, window=window, parent_keys=keys)
        rows = list(built.source.resources[parent.name])
        keys = distinct_keys(parent, below, rows)
        made += built.stats.total
        log.info("`%s`: %d keys from %d `%s` rows read from the API", below.name, len(keys), len(rows), parent.name)
    return keys or [], made
