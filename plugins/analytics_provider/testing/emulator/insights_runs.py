"""Insights per workflow: ``/v2/insights/{slug}/workflows`` (metrics per workflow name) and
``/v2/insights/{slug}/workflows/{name}`` (its recent runs, server-side ``start-date``/``end-date``).

Runs are the workflows the emulator already serves (same ids, statuses, times), as the real
service lists them: finished runs only (the schema's status enum has no running or on-hold
value), newest first, created within the last 90 days (the insights retention) and within
``[start-date, end-date]`` when given. A re-run is a run of its own (a new workflow id) even in
an old pipeline, which is what makes this list a signal for re-runs.
"""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING, Any

from .model import DAY_MS, Project, Workflow, fmt_s, parse_time
from .views import workflow_status

if TYPE_CHECKING:
    from .routes import Api, Request, Response
    from .state import EmulatorState

RETENTION_DAYS = 90
#: The run statuses the insights schema knows; a served workflow status maps onto them.
_RUN_STATUS = {"success": "success", "failed": "failed", "error": "error", "canceled": "canceled"}
_CREDITS_PER_MINUTE = {"small": 5, "medium": 10, "large": 20, "xlarge": 40}


def runs(
    state: EmulatorState, project: Project, name: str, start: str | None = None, end: str | None = None
) -> list[Workflow]:
    """Finished runs of workflow ``name`` of ``project``, newest first (callers hold the lock).

    Raises ``ValueError`` for a date that is not ISO-8601."""
    now = state.now_ms
    since = max(now - RETENTION_DAYS * DAY_MS, parse_time(start) if start else 0)
    until = min(now, parse_time(end)) if end else now
    out: list[Workflow] = []
    # a run is created after its pipeline (re-runs: much later), so scan every pipeline created before `until`
    for p in state.iter_pipelines(now - RETENTION_DAYS * DAY_MS, until + 1):
        if p.project is not project:
            continue
        for wf in state.visible_workflows(p):
            if wf.name == name and since <= wf.created_ms <= until and wf.final_ms <= now:
                out.append(wf)
    out.sort(key=lambda w: (w.created_ms, w.id), reverse=True)
    return out


def run_view(wf: Workflow, now: int) -> dict[str, Any]:
    status, stopped = workflow_status(wf, now)
    p = wf.pipeline
    build_ms = sum(
        (j.stopped_ms - j.started_ms) * j.template.parallelism
        for j in wf.jobs
        if not j.is_approval and j.started_ms is not None and j.stopped_ms is not None and j.stopped_ms <= now
    )
    rate = statistics.mean(_CREDITS_PER_MINUTE.get(j.template.resource_class, 10) for j in wf.jobs)
    return {
        "id": wf.id,
        "branch": p.branch if p.branch is not None else p.project.default_branch,
        "duration": None if stopped is None else (stopped - wf.created_ms) // 1000,
        "created_at": fmt_s(wf.created_ms),
        "stopped_at": None if stopped is None else fmt_s(stopped),
        "credits_used": int(build_ms / 60_000 * rate),
        "status": _RUN_STATUS.get(status),
        "is_approval": any(j.is_approval for j in wf.jobs),
    }


def workflow_names(state: EmulatorState, project: Project) -> list[str]:
    """The names insights know for ``project``: its configured workflows, then names of served runs
    that are not among them (a renamed workflow)."""
    names = dict.fromkeys(project.workflows)
    for p in state.iter_pipelines(state.now_ms - RETENTION_DAYS * DAY_MS):
        if p.project is project:
            names.update(dict.fromkeys(w.name for w in state.visible_workflows(p)))
    return list(names)


def truth_rows(state: EmulatorState, projects: list[Project]) -> list[dict[str, Any]]:
    """Every run insights serve, annotated with its project slug and workflow name."""
    return [
        {**run_view(w, state.now_ms), "project_slug": p.slug, "workflow_name": name}
        for p in projects
        for name in workflow_names(state, p)
        for w in runs(state, p, name)
    ]


# -- handlers (registered in routes.py) ------------------------------------------------------
def list_workflows(api: Api, req: Request) -> Response:
    from .routes import error

    project = api.state.project(req.params["project_slug"])
    if project is None:
        return error(404, "Project not found.")
    with api.state.lock:
        names = workflow_names(api.state, project)
        items = {n: workflow_metrics(api.state, project, n) for n in names}
        return api._paged(req, f"insights-wf:{project.id}", names, lambda n: n, items.__getitem__)


def list_runs(api: Api, req: Request) -> Response:
    from .routes import error

    project = api.state.project(req.params["project_slug"])
    if project is None:
        return error(404, "Project not found.")
    name, start, end = req.params["workflow_name"], req.arg("start-date"), req.arg("end-date")
    with api.state.lock:
        try:
            found = runs(api.state, project, name, start, end)
        except ValueError:
            return error(400, "Invalid start-date or end-date: an ISO-8601 date-time is expected.")
        now = api.state.now_ms
        scope = f"insights-runs:{project.id}:{name}:{start}:{end}"
        return api._paged(req, scope, found, lambda w: w.id, lambda w: run_view(w, now))


def workflow_metrics(state: EmulatorState, project: Project, name: str) -> dict[str, Any]:
    """One item of ``/v2/insights/{slug}/workflows``: metrics over the retention window."""
    now = state.now_ms
    done = [run_view(w, now) for w in runs(state, project, name)]
    durations = sorted(r["duration"] for r in done if r["duration"] is not None)
    ok = sum(r["status"] == "success" for r in done)
    failed = sum(r["status"] == "failed" for r in done)

    def pick(q: float) -> int | None:
        return durations[min(len(durations) - 1, int(q * len(durations)))] if durations else None

    return {
        "name": name,
        "metrics": {
            "total_runs": len(done),
            "successful_runs": ok,
            "mttr": None,
            "total_credits_used": sum(r["credits_used"] for r in done),
            "failed_runs": failed,
            "success_rate": round(ok / len(done), 4) if done else 0.0,
            "duration_metrics": {
                "min": durations[0] if durations else None,
                "mean": int(statistics.mean(durations)) if durations else None,
                "median": pick(0.5),
                "p95": pick(0.95),
                "max": durations[-1] if durations else None,
                "standard_deviation": round(statistics.pstdev(durations), 2) if durations else None,
            },
            "total_recoveries": None,
            "throughput": round(len(done) / RETENTION_DAYS, 3),
        },
        "window_start": fmt_s(max(state.start_ms, now - RETENTION_DAYS * DAY_MS)),
        "window_end": fmt_s(now),
        "project_id": project.id,
    }
