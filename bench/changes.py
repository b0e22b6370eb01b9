"""Requests of one scheduled run after the API changed (issue 16), against the changed records and
against a full re-read.

A full load of `days` of history (both chains: pipelines and their children; projects, insights
workflow runs and re-runs), then one round of the emulator's change model (old approvals held for
weeks, about half granted, an old on-hold workflow canceled, a failed workflow re-run in a pipeline
2.5+ days old, running work progressing, new pipelines), then one scheduled run. Changed records =
rows of `workflow`, `workflow_jobs`, `jobs` and `pipelines` whose served value changed or that are
new. Deterministic: one run each.

Run: `.venv/bin/python bench/changes.py [--days 30]` (also printed by `bench/requests.py`)
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import _common

TABLES = {"pipelines": "id", "workflow": "id", "workflow_jobs": "id", "jobs": "number"}
PIPELINES = ["self_collaborations", "pipelines", "pipeline_workflows", "workflow", "workflow_jobs", "jobs", "job_tests"]
PROJECTS = [
    "projects",
    "insights_workflows",
    "workflow_runs",
    "rerun_workflows",
    "rerun_workflow_jobs",
    "rerun_jobs",
    "rerun_job_tests",
    "flaky_tests",
]
FINAL_JOB = {"success", "failed", "canceled", "not_run", "retried", "infrastructure_fail", "timedout"}
TESTS_PAGE = 20


def _final_jobs(emu: Any) -> set[tuple[str, int]]:
    return {(r["project_slug"], r["number"]) for r in emu.truth("jobs") if r["status"] in FINAL_JOB}


def tests_bound(emu: Any, jobs: set[tuple[str, int]]) -> int:
    """At most one `/tests` request per job in `jobs`, plus the extra pages of its results."""
    per_job = Counter((r["project_slug"], r["job_number"]) for r in emu.truth("job_tests"))
    return len(jobs) + sum(max(0, -(-per_job[j] // TESTS_PAGE) - 1) for j in jobs)


def _snapshot(emu: Any) -> dict[str, dict[Any, str]]:
    out = {}
    for table, key in TABLES.items():
        rows = emu.truth(table)
        out[table] = {(r.get("project_slug"), r[key]): repr(sorted(r.items())) for r in rows}
    return out


def _changed(before: dict[str, dict[Any, str]], after: dict[str, dict[Any, str]]) -> dict[str, int]:
    return {t: sum(1 for k, v in after[t].items() if before[t].get(k) != v) for t in TABLES}


def _run(emu: Any, start: datetime, end: datetime) -> Counter[str]:
    from analytics_provider.testing.chain import run_chain, task_context

    emu.reset_stats()
    for chain in (PIPELINES, PROJECTS):
        run_chain(chain, task_context(start, end))
    return Counter(emu.stats()["routes"])


def report(days: int) -> dict[str, Any]:
    from analytics_provider.testing.emulator import Emulator, EmulatorConfig
    from analytics_provider.testing.emulator.changes import apply_changes, hold_approvals

    _common.allow_direct_execute()
    now = datetime.fromisoformat(_common.EMULATOR_NOW.replace("Z", "+00:00"))
    emu = Emulator(EmulatorConfig(port=0, seed=42, days=days, now=now, api_key=_common.API_KEY)).start()
    tmp = Path(tempfile.mkdtemp(prefix="bench_changes_"))
    os.environ.update(_common.api_connection_env(emu.base_url))
    os.environ["ANALYTICS_DUCKDB_PATH"] = str(tmp / "warehouse.duckdb")
    try:
        hold_approvals(emu.state, 8)
        full = _run(emu, now - timedelta(days=days), now)
        full_bound = tests_bound(emu, _final_jobs(emu))
        before, final_before = _snapshot(emu), _final_jobs(emu)
        changed = apply_changes(emu.state, 1)
        changed_rows = _changed(before, _snapshot(emu))
        newly_final = _final_jobs(emu) - final_before
        after = _run(emu, now, now + timedelta(minutes=30))
        after_bound = tests_bound(emu, newly_final)
    finally:
        emu.stop()
    result = {
        "days": days,
        "full_load_requests": sum(full.values()),
        "incremental_requests": sum(after.values()),
        "changed_records": changed_rows,
        "incremental_by_route": dict(after),
        "rerun_pipeline_age_days": round(changed["rerun"]["pipeline_age_ms"] / 86_400_000, 1),
        "job_tests": {
            "full_load": {"requests": _tests_requests(full), "bound": full_bound},
            "after_changes": {
                "requests": _tests_requests(after),
                "bound": after_bound,
                "newly_final_jobs": len(newly_final),
            },
        },
    }
    _common.out(
        _common.table(["route", "requests after one round of changes"], sorted(after.items(), key=lambda kv: -kv[1]))
    )
    total_changed = sum(changed_rows.values())
    _common.out(
        f"After changes to {total_changed} records ({changed_rows}): {result['incremental_requests']} requests, "
        f"against {result['full_load_requests']} for a full {days}-day re-read "
        f"({result['full_load_requests'] / max(result['incremental_requests'], 1):.0f}x fewer)."
    )
    jt = result["job_tests"]
    ok = all(v["requests"] <= v["bound"] for v in jt.values())
    _common.out(
        f"job_tests: full load {jt['full_load']['requests']} `/tests` requests (bound: one per final job plus extra "
        f"pages, {jt['full_load']['bound']}); after the changes {jt['after_changes']['requests']} for "
        f"{jt['after_changes']['newly_final_jobs']} newly final jobs (bound {jt['after_changes']['bound']}): "
        f"{'MET' if ok else 'MISSED'}"
    )
    return result


def _tests_requests(routes: Counter[str]) -> int:
    return sum(n for route, n in routes.items() if route.endswith("/tests"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    _common.header(f"Requests after one round of API changes vs a full {args.days}-day re-read", False)
    _common.write_json(args.json, report(args.days))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
