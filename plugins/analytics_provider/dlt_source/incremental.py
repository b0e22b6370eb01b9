"""An incremental resource's dlt settings: the window, the stored cursors, the cursor's type."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pendulum

from analytics_provider.config.model import ResourceSpec
from analytics_provider.dlt_source.window import LoadWindow


def stored_cursors(state: dict[str, Any], source: str, resource: ResourceSpec) -> set[str]:
    """Names of the dlt resources of `source` that have a stored incremental cursor."""
    if resource.incremental is None:
        return set()
    resources = state.get("sources", {}).get(source, {}).get("resources", {})
    cursor = resource.incremental.cursor_path
    return {
        name
        for name, res_state in resources.items()
        if (res_state.get("incremental", {}).get(cursor) or {}).get("last_value") is not None
    }


def incremental_config(resource: ResourceSpec, window: LoadWindow, has_cursor: bool) -> dict[str, Any]:
    """dlt incremental settings for the window.

    An explicit window (end given) is stateless: read from `start - lookback` (the paging margin;
    a filter step then keeps exactly [start, end)) and leave the stored cursor alone. Otherwise
    the stored cursor minus `lookback` (dlt's `lag`) is the start — with no `initial_value`, which
    dlt would not let the lag cross, so a run after failed or skipped days still closes the gap —
    or `window.start` on the first run.
    """
    inc = resource.incremental
    assert inc is not None
    config: dict[str, Any] = {
        "cursor_path": inc.cursor_path,
        "row_order": inc.row_order,
        "range_start": "closed",
        "range_end": "open",
    }
    if window.end is not None:
        config["initial_value"] = (window.start or window.end) - inc.lookback
        config["end_value"] = window.end
    else:
        if not has_cursor:
            config["initial_value"] = window.start
        if inc.lookback:
            config["lag"] = inc.lookback.total_seconds()
    return config


def parse_cursor(row: dict[str, Any], cursor: str) -> dict[str, Any]:
    """ISO strings (with or without milliseconds) -> datetimes, so dlt compares instants, not text."""
    value = row.get(cursor)
    if isinstance(value, str):
        try:
            row[cursor] = datetime.fromisoformat(value)  # C parser: Z suffix and fractions since 3.11
        except ValueError:
            row[cursor] = pendulum.parse(value)
    return row


def cursor_parser(selector: Any, cursor: str) -> Any:
    """For the response hook: parse the cursor of every record a page holds at `selector` (a
    compiled JSONPath), so dlt's incremental step and the window filter compare instants."""
    from dlt.common.jsonpath import find_values

    def parse_records(body: Any) -> None:
        for found in find_values(selector, body):
            for row in found if isinstance(found, list) else [found]:
                if isinstance(row, dict):
                    parse_cursor(row, cursor)

    return parse_records
