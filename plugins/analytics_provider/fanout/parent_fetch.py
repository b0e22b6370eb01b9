"""A `fetch_parent` child's keys: its parent's rows read from the API in the child's own task.

The parent is a root list (the orgs of the key: one request), so reading it again costs less
than waiting for the parent's task to load it: the child, and every fan-out below it, starts
with the DAG run instead of after the parent's task (bench/fanout.py).
"""

from __future__ import annotations

import logging
from typing import Any

from requests import Session

from analytics_provider.config.model import ResourceSpec, Spec
from analytics_provider.dlt_source.builder import build_source
from analytics_provider.fanout.child_keys import distinct_keys
from analytics_provider.hooks.analytics_api import ApiSettings
from analytics_provider.window import LoadWindow

log = logging.getLogger(__name__)


def fetch_parent_keys(
    spec: Spec,
    child: ResourceSpec,
    *,
    settings: ApiSettings,
    session: Session,
    dataset: str,
    window: LoadWindow,
    org_slugs: tuple[str, ...] = (),
) -> tuple[list[dict[str, Any]], int]:
    """The distinct keys `child` loads, from its parent's rows as the API lists them now (the org
    filter applied, as in the parent's own load), in the order batches use; and the requests made."""
    assert child.parent is not None, f"`{child.name}` has no parent"
    parent = spec.resource(child.parent).for_api(settings.api_version)
    args = {"settings": settings, "session": session, "dataset": dataset, "window": window, "org_slugs": org_slugs}
    above, made = None, 0
    if parent.fetch_parent:  # a parent that reads its own parent's rows (v3 `projects`: per org)
        above, made = fetch_parent_keys(spec, parent, **args)
    built = build_source(spec, parent, parent_keys=above, **args)
    rows = list(built.source.resources[parent.name])
    found = distinct_keys(parent, child, rows)
    log.info("`%s`: %d keys from %d `%s` rows read from the API", child.name, len(found), len(rows), parent.name)
    return found, made + built.stats.total
