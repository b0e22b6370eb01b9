"""Requests of a scheduled incremental run vs a full re-read, for an org with 90 days of history.

The `pipelines` list has no server-side date filter and is newest first: a run must page until the
first pipeline older than its window start (minus the 1 h lookback) and stop there. This counts,
from the emulator's own statistics, the requests of `self_collaborations -> pipelines` for:

1. a first scheduled run (data interval = the last day; stateful: it stores the cursor);
2. a second scheduled run after the emulator's clock moved one day on (stateful, from the cursor);
3. a third scheduled run with no new pipelines at all;
4. a full re-read: an explicit 90-day window (`start`/`end` params, stateless).

Needed pages = for each org, ceil(pipelines in [cursor - lookback, now) / 20); allowed = needed
+ 1 per list endpoint (one `/v2/pipeline` list per org). Request counts are deterministic: one
run each.

Run: `.venv/bin/python bench/requests.py [--quick]`
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import _common

PAGE_SIZE = 20
LOOKBACK = timedelta(hours=1)


def _dt(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(timezone.utc)


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def needed_pages(emulator: Any, orgs: list[dict[str, Any]], since: datetime) -> dict[str, int]:
    """Pages each org's list needs to reach back to `since` (20 a page)."""
    rows = emulator.truth("pipelines", since=_iso(since))
    pages = {}
    for org in orgs:
        n = sum(1 for r in rows if r["project_slug"].startswith(org["slug"] + "/"))
        pages[org["slug"]] = max(1, math.ceil(n / PAGE_SIZE))
    return pages


def run(emulator: Any, context: dict[str, Any], **kwargs: Any) -> tuple[dict[str, int], dict[str, Any]]:
    from analytics_provider.testing.chain import run_chain

    _common.allow_direct_execute()
    emulator.reset_stats()
    out = run_chain(["self_collaborations", "pipelines"], context, **kwargs)
    stats = emulator.stats()
    return stats["routes"], out["pipelines"][0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="30 days of history instead of 90")
    ap.add_argument("--days", type=int, default=None, help="days of history (default 90)")
    ap.add_argument("--scale", type=float, default=1.0, help="emulator scale (1 = about 45 pipelines a working day)")
    ap.add_argument("--json", default=None, help="write the figures here")
    args = ap.parse_args()
    days = args.days or (30 if args.quick else 90)
    _common.header(f"Requests: scheduled incremental runs vs a full {days}-day re-read", args.quick)

    from analytics_provider.testing.chain import task_context

    emu = _common.spawn(scale=args.scale, days=days)
    tmp = Path(tempfile.mkdtemp(prefix="bench_requests_"))
    os.environ.update(_common.api_connection_env(emu.base_url))
    rows = []
    results: dict[str, Any] = {}
    try:
        orgs = emu.truth("self_collaborations")
        total = len(emu.truth("pipelines"))
        now0 = _dt(_common.EMULATOR_NOW)
        day = timedelta(days=1)
        os.environ["ANALYTICS_DUCKDB_PATH"] = str(tmp / "scheduled.duckdb")

        # 1. first scheduled run: data interval [now - 1 day, now)
        need = needed_pages(emu, orgs, now0 - day - LOOKBACK)
        routes, summary = run(emu, task_context(now0 - day, now0))
        rows.append(_row("1. first scheduled run (interval: last day)", routes, need, summary))
        cursor_start = now0 - LOOKBACK  # newest pipeline is within minutes of now; the stored cursor minus lookback

        # 2. one day later: the next scheduled run continues from the stored cursor
        emu.advance(24 * 60)
        now1 = now0 + day
        stored = _stored_cursor(tmp / "scheduled.duckdb")
        since = (stored or cursor_start) - LOOKBACK
        need = needed_pages(emu, orgs, since)
        routes, summary = run(emu, task_context(now0, now1))
        rows.append(_row("2. next scheduled run (a day later, from the cursor)", routes, need, summary))

        # 3. no new pipelines since the last run
        stored = _stored_cursor(tmp / "scheduled.duckdb")
        need = needed_pages(emu, orgs, (stored or now1) - LOOKBACK)
        routes, summary = run(emu, task_context(now1, now1 + timedelta(minutes=1)))
        rows.append(_row("3. scheduled run with nothing new", routes, need, summary))

        # 4. full re-read: explicit window over the whole history, into another file
        os.environ["ANALYTICS_DUCKDB_PATH"] = str(tmp / "full.duckdb")
        start = now1 - timedelta(days=days + 1)
        need = needed_pages(emu, orgs, start - LOOKBACK)
        routes, summary = run(emu, task_context(), start=_iso(start), end=_iso(now1))
        rows.append(_row(f"4. full re-read (explicit {days + 1}-day window)", routes, need, summary))
        results = {"rows": rows, "orgs": len(orgs), "pipelines_in_history": total}
    finally:
        emu.stop()

    out = _common.out
    out(
        f"Emulator: {days} days of history (scale {args.scale}), {len(results['rows'] and orgs)} orgs, "
        f"{results['pipelines_in_history']} pipelines before the clock moves; 20 pipelines a page."
    )
    out()
    out(
        _common.table(
            [
                "run",
                "pipelines loaded",
                "/v2/pipeline requests",
                "pages needed",
                "allowed (needed + 1 per org list)",
                "other requests",
                "within bound",
            ],
            [
                [
                    r["run"],
                    r["rows"],
                    r["pipeline_requests"],
                    r["needed"],
                    r["allowed"],
                    r["other"],
                    "yes" if r["pipeline_requests"] <= r["allowed"] else "NO",
                ]
                for r in rows
            ],
        )
    )
    out()
    incremental = rows[1]
    full = rows[3]
    out(
        f"Next scheduled run: {incremental['pipeline_requests']} list requests vs {full['pipeline_requests']} for a "
        f"full re-read ({full['pipeline_requests'] / max(incremental['pipeline_requests'], 1):.0f}x fewer)."
    )
    ok = all(r["pipeline_requests"] <= r["allowed"] for r in rows)
    out(f"Target at most needed + 1 page per list endpoint: {'MET' if ok else 'MISSED'}")
    out()
    import changes  # a run after the API changed: requests against changed records (issue 16)

    results["after_changes"] = changes.report(days)
    out()
    _common.write_json(args.json, results)
    return 0


def _row(name: str, routes: dict[str, int], need: dict[str, int], summary: dict[str, Any]) -> dict[str, Any]:
    pipeline_requests = routes.get("GET /v2/pipeline", 0)
    return {
        "run": name,
        "rows": (summary.get("rows") or {}).get("pipelines", 0),
        "pipeline_requests": pipeline_requests,
        "needed": sum(need.values()),
        "allowed": sum(need.values()) + len(need),
        "other": sum(routes.values()) - pipeline_requests,
        "routes": routes,
    }


def _stored_cursor(db: Path) -> datetime | None:
    """The newest `created_at` loaded so far (what the stored dlt cursor holds)."""
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        value = con.execute("SELECT max(created_at) FROM analytics.pipelines").fetchone()[0]
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


if __name__ == "__main__":
    raise SystemExit(main())
