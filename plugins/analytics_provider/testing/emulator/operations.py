"""Changes to the emulated world: mutate, advance, finish. Callers hold the state lock."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .generator import MAX_OPEN_MS
from .model import MINUTE_MS, Job, Workflow, fmt_ms
from .reruns import rerun_workflow
from .views import job_started

if TYPE_CHECKING:
    from .state import EmulatorState

MUTABLE = ("context", "pipelines", "workflow", "pipeline_workflows", "workflow_jobs", "jobs")
_FLIP = {"success": "failed"}


def mutate(state: EmulatorState, resource: str, count: int) -> dict[str, Any]:
    """Change the ``count`` newest not-yet-mutated records of ``resource``.

    pipelines: state -> ``errored`` (+ an error, ``updated_at`` = now); workflow /
    pipeline_workflows: name gets ``-v2``, final status flips; workflow_jobs / jobs: the final
    status of a finished build job flips; context: name gets ``-renamed``.
    """
    if resource not in MUTABLE:
        raise ValueError(f"cannot mutate `{resource}`; mutable resources: {', '.join(MUTABLE)}")
    if count < 1:
        raise ValueError(f"`count` must be at least 1, got {count}")
    now = state.now_ms
    ids: list[str] = []
    extra: list[dict[str, Any]] = []
    if resource == "context":
        contexts = sorted(
            (c for o in state.world.orgs for c in o.contexts if not c.mutated),
            key=lambda c: (c.created_ms, c.id),
            reverse=True,
        )
        for c in contexts[:count]:
            c.name, c.mutated = c.name + "-renamed", True
            ids.append(c.id)
    elif resource == "pipelines":
        for p in state.iter_pipelines():
            if len(ids) == count:
                break
            if p.state == "created" and not p.mutated:
                p.state, p.updated_ms, p.mutated = "errored", now, True
                p.errors.append({"type": "other", "message": "Pipeline marked errored by the emulator."})
                ids.append(p.id)
    elif resource in ("workflow", "pipeline_workflows"):
        for wf in _final_workflows(state):
            if len(ids) == count:
                break
            if not wf.mutated:
                wf.name, wf.mutated = wf.name + "-v2", True
                wf.status_override = _FLIP.get(wf.final_status, "success")
                ids.append(wf.id)
    else:
        for wf in _final_workflows(state):
            for job in wf.jobs:
                if len(ids) < count and job_started(job, now) and not job.mutated:
                    job.status_override = _FLIP.get(job.final_status, "success")
                    job.mutated = True
                    ids.append(job.id)
                    extra.append(
                        {
                            "id": job.id,
                            "project_slug": wf.pipeline.project.slug,
                            "job_number": job.number,
                            "workflow_id": wf.id,
                        }
                    )
            if len(ids) == count:
                break
    out: dict[str, Any] = {"resource": resource, "count": len(ids), "ids": ids}
    if extra:
        out["jobs"] = extra
    return out


def _final_workflows(state: EmulatorState) -> Iterator[Workflow]:
    for p in state.iter_pipelines():
        for wf in state.visible_workflows(p):
            if wf.final_ms <= state.now_ms:
                yield wf


def advance(state: EmulatorState, minutes: float) -> dict[str, Any]:
    """Move ``now`` forward; the pipelines planned in the span become visible."""
    if minutes <= 0:
        raise ValueError(f"`minutes` must be positive, got {minutes}")
    before = state.now_ms
    state.now_ms = before + round(minutes * MINUTE_MS)
    new = list(state.iter_pipelines(before))
    workflows = [w for p in new for w in state.visible_workflows(p)]
    return {
        "previous_now": fmt_ms(before),
        "now": fmt_ms(state.now_ms),
        "new_pipelines": len(new),
        "new_workflows": len(workflows),
        "new_jobs": sum(len(w.jobs) for w in workflows),
        "pipeline_ids": [p.id for p in new],
    }


def finish(state: EmulatorState) -> dict[str, Any]:
    """Finish every open workflow at ``now`` and re-run the newest failed workflow once."""
    now = state.now_ms
    finished: list[str] = []
    jobs: list[str] = []
    approved: list[str] = []
    for p in list(state.iter_pipelines(now - MAX_OPEN_MS)):
        for wf in state.visible_workflows(p):
            if wf.final_ms > now:
                _finish_workflow(wf, now, jobs, approved)
                finished.append(wf.id)
    rerun = None
    for wf in _final_workflows(state):
        if wf.final_status == "failed" and wf.rerun_of is None and wf.pipeline.id not in state.rerun_pipelines:
            new = rerun_workflow(wf, now)
            wf.pipeline.workflows.append(new)
            state.index_workflow(new)
            state.rerun_pipelines.add(wf.pipeline.id)
            rerun = {
                "workflow_id": new.id,
                "pipeline_id": wf.pipeline.id,
                "rerun_of": wf.id,
                "job_numbers": [j.number for j in new.jobs if not j.is_approval],
            }
            break
    return {
        "now": fmt_ms(now),
        "workflows_finished": finished,
        "jobs_finished": jobs,
        "approvals_approved": approved,
        "rerun": rerun,
    }


def _finish_workflow(wf: Workflow, now: int, jobs: list[str], approved: list[str]) -> None:
    for job in wf.jobs:
        if job.end_ms <= now:
            continue
        job.ready_ms = min(job.ready_ms, now)
        if job.final_status == "not_run":
            job.not_run_ms = now
        elif job.is_approval:
            job.approved_ms = now
            approved.append(job.id)
        else:
            _stop(job, now)
            jobs.append(job.id)
    wf.final_ms = max(j.end_ms for j in wf.jobs)


def _stop(job: Job, now: int) -> None:
    if job.started_ms is None or job.started_ms > now:
        job.started_ms = now
    job.stopped_ms = now
