"""Insights: ``/v2/insights/pages/{slug}/summary`` and ``/v2/insights/{slug}/branches``.

Like the real service's daily aggregates, the numbers are not recomputed from every job:
run counts come from the per-day pipeline counts, rates and durations from a seeded draw.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from .model import DAY_MS, Project

if TYPE_CHECKING:
    from .state import EmulatorState

REPORTING_WINDOWS = {
    "last-24-hours": 1,
    "last-7-days": 7,
    "last-30-days": 30,
    "last-60-days": 60,
    "last-90-days": 90,
}
DEFAULT_WINDOW = "last-90-days"
_PROJECT_TRENDS = ("total_runs", "total_duration_secs", "total_credits_used", "success_rate", "throughput")


def summary(state: EmulatorState, project: Project, window: str = DEFAULT_WINDOW) -> dict[str, Any]:
    """Raises ``KeyError`` for an unknown reporting window."""
    days = REPORTING_WINDOWS[window]
    runs = _pipelines_in(state, project, state.now_ms - days * DAY_MS, state.now_ms)
    rng = random.Random(f"insights:{state.seed}:{project.id}:{window}")
    names = list(project.workflows)
    wf_data, branch_data = [], []
    for name in names:
        share = rng.uniform(0.4, 0.9)
        metrics = _metrics(rng, round(runs * share), len(project.workflows[name]))
        wf_data.append({"workflow_name": name, "metrics": metrics, "trends": _trends(rng)})
        for branch in project.branches[:2]:
            b_metrics = _metrics(rng, round(metrics["total_runs"] * rng.uniform(0.2, 0.6)), 1)
            branch_data.append({"workflow_name": name, "branch": branch, "metrics": b_metrics, "trends": _trends(rng)})
    total_runs = sum(w["metrics"]["total_runs"] for w in wf_data)
    duration = sum(int(w["metrics"]["p95_duration_secs"] * w["metrics"]["total_runs"] * 0.6) for w in wf_data)
    ok = sum(w["metrics"]["success_rate"] * w["metrics"]["total_runs"] for w in wf_data)
    trends = {key: round(rng.uniform(0.6, 1.4), 3) for key in _PROJECT_TRENDS}
    return {
        "org_id": project.org.id,
        "project_id": project.id,
        "project_data": {
            "metrics": {
                "total_runs": total_runs,
                "total_duration_secs": duration,
                "total_credits_used": sum(w["metrics"]["total_credits_used"] for w in wf_data),
                "success_rate": round(ok / total_runs, 4) if total_runs else 0.0,
                "throughput": round(total_runs / days, 3),
            },
            "trends": trends,
        },
        "project_workflow_data": wf_data,
        "project_workflow_branch_data": branch_data,
        "all_branches": list(project.branches),
        "all_workflows": names,
    }


def branches(project: Project) -> dict[str, Any]:
    return {"org_id": project.org.id, "project_id": project.id, "branches": list(project.branches)}


def _metrics(rng: random.Random, runs: int, jobs: int) -> dict[str, Any]:
    p95 = round(rng.uniform(60, 400) * jobs, 1) if runs else 0.0
    return {
        "total_credits_used": int(runs * p95 / 60 * 10 * rng.uniform(0.4, 0.8)),
        "p95_duration_secs": p95,
        "total_runs": runs,
        "success_rate": round(rng.uniform(0.75, 0.99), 4) if runs else 0.0,
    }


def _trends(rng: random.Random) -> dict[str, Any]:
    return {
        key: round(rng.uniform(0.6, 1.4), 3)
        for key in ("total_credits_used", "p95_duration_secs", "total_runs", "success_rate")
    }


def _pipelines_in(state: EmulatorState, project: Project, since_ms: int, until_ms: int) -> int:
    """Pipelines of ``project`` in the span, prorated per 24-hour segment (no segment is built)."""
    since_ms = max(since_ms, state.start_ms)
    total = 0.0
    for k in range(max(0, state.segment_of(since_ms)), state.segment_of(until_ms) + 1):
        start = state.start_ms + k * DAY_MS
        overlap = min(until_ms, start + DAY_MS) - max(since_ms, start)
        if overlap > 0:
            total += state.counts(k)[project.index] * overlap / DAY_MS
    return round(total)
