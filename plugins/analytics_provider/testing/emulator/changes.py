"""How the real service changes records after they were first served, as rounds a test can apply.

:func:`hold_approvals` (before a first load) makes approval jobs of old pipelines wait for weeks,
as release gates and change boards do: their workflows stay ``on_hold`` and the jobs behind the
approval ``blocked``. Each :func:`apply_changes` round then, at ``now``:

1. grants about half of the approvals still waiting (the jobs behind them queue and run);
2. cancels the oldest workflow still on hold (round 1 only, if one is left);
3. re-runs a finished, failed workflow in a pipeline at least ``RERUN_MIN_AGE`` old: a new
   workflow id in that pipeline, ``pipeline.updated_at`` unchanged, its jobs run for minutes;
4. moves ``now`` forward ``ROUND_MINUTES``: running jobs finish, queued jobs start, new
   pipelines appear.

Deterministic: the same state and round always make the same changes. Both take the state's lock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import operations
from .model import DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS, Job, Workflow
from .reruns import rerun_workflow

if TYPE_CHECKING:
    from .state import EmulatorState

#: "Not yet": an approval granted, a job started at this time has not happened.
PENDING_MS = 2**52
ROUND_MINUTES = 30
RERUN_MIN_AGE = 2 * DAY_MS + 12 * HOUR_MS
HOLD_MIN_AGE = 8 * DAY_MS


def hold_approvals(state: EmulatorState, count: int = 8, min_age_ms: int = HOLD_MIN_AGE) -> dict[str, Any]:
    """Make the approvals of ``count`` finished workflows older than ``min_age_ms`` still wait."""
    if count < 1:
        raise ValueError(f"`count` must be at least 1, got {count}")
    with state.lock:
        return _hold(state, count, min_age_ms)


def _hold(state: EmulatorState, count: int, min_age_ms: int) -> dict[str, Any]:
    candidates = [
        wf
        for p in state.iter_pipelines(until_ms=state.now_ms - min_age_ms)
        for wf in state.visible_workflows(p)
        if wf.final_ms <= state.now_ms and wf.rerun_of is None and _approval(wf) is not None
    ]
    step = max(1, len(candidates) // count)  # spread over ages, oldest and newest included
    held: list[str] = []
    for wf in candidates[::step][:count]:
        gate = _approval(wf)
        assert gate is not None
        gate.approved_ms = PENDING_MS
        _replan(wf, gate.ready_ms)
        held.append(wf.id)
    return {"held_workflows": held, "count": len(held)}


def apply_changes(state: EmulatorState, round_no: int) -> dict[str, Any]:
    """One round of changes at ``now`` (see the module text); what changed, by id."""
    if round_no < 1:
        raise ValueError(f"`round` must be at least 1, got {round_no}")
    with state.lock:
        return _apply(state, round_no)


def _apply(state: EmulatorState, round_no: int) -> dict[str, Any]:
    now = state.now_ms
    waiting = [wf for wf in _held(state) if _approval(wf, pending=True) is not None]
    granted = []
    for wf in waiting[::2]:  # every other one: about half
        gate = _approval(wf, pending=True)
        assert gate is not None
        gate.approved_ms = now
        _replan(wf, now)
        granted.append(wf.id)
    canceled = None
    still = [wf for wf in waiting if wf.id not in granted]
    if round_no == 1 and still:
        canceled = _cancel(still[-1], now).id  # oldest: the list is newest first
    rerun = _rerun_old(state, now)
    advanced = operations.advance(state, ROUND_MINUTES)
    return {
        "round": round_no,
        "at": advanced["previous_now"],
        "now": advanced["now"],
        "approvals_granted": granted,
        "canceled": canceled,
        "rerun": rerun,
        "new_pipelines": advanced["pipeline_ids"],
    }


def _held(state: EmulatorState) -> list[Workflow]:
    """Workflows waiting on a pending approval, newest first."""
    held = [wf for wf in state.workflows_by_id.values() if wf.final_ms >= PENDING_MS]
    return sorted(held, key=lambda w: (w.created_ms, w.id), reverse=True)


def _approval(wf: Workflow, pending: bool = False) -> Job | None:
    for job in wf.jobs:
        if job.is_approval and job.final_status != "not_run" and (not pending or job.approved_ms == PENDING_MS):
            return job
    return None


def _replan(wf: Workflow, at_ms: int) -> None:
    """Re-time, along their dependencies, the jobs of ``wf`` that wait on a pending approval: still
    pending while one is, else from ``at_ms`` on. Other jobs keep their times; durations are kept."""
    by_id = {j.id: j for j in wf.jobs}
    for job in wf.jobs:  # in dependency order: a job's deps come before it
        if job.is_approval and job.approved_ms == PENDING_MS and job.ready_ms < PENDING_MS:
            continue  # the gate itself: waiting
        dep_end = max((by_id[d].end_ms for d in job.deps), default=wf.created_ms)
        if dep_end >= PENDING_MS:
            _set_pending(job)
        elif job.ready_ms >= PENDING_MS:
            _retime(job, max(dep_end, at_ms), dep_end)
    wf.final_ms = max(j.end_ms for j in wf.jobs)


def _set_pending(job: Job) -> None:
    job.ready_ms = PENDING_MS
    if job.final_status == "not_run":
        job.not_run_ms = PENDING_MS
    elif job.is_approval:
        job.approved_ms = PENDING_MS
    else:
        job.started_ms = job.stopped_ms = PENDING_MS


def _retime(job: Job, from_ms: int, dep_end: int) -> None:
    ready = from_ms + 5 * SECOND_MS
    if job.final_status == "not_run":
        job.ready_ms, job.not_run_ms = ready, max(dep_end, from_ms)
    elif job.is_approval:
        job.ready_ms, job.approved_ms = ready, ready + 10 * MINUTE_MS
    else:
        job.ready_ms, job.started_ms = ready, ready + 10 * SECOND_MS
        job.stopped_ms = job.started_ms + job.template.min_s * SECOND_MS


def _cancel(wf: Workflow, now: int) -> Workflow:
    for job in wf.jobs:
        if job.end_ms <= now:
            continue
        if job.is_approval:
            job.approved_ms, job.status_override = None, "canceled"
            job.ready_ms = min(job.ready_ms, now)
        else:
            job.final_status, job.not_run_ms = "not_run", now
            job.ready_ms, job.started_ms, job.stopped_ms = now, None, None
    wf.final_status, wf.status_override, wf.final_ms = "canceled", None, now
    return wf


def _rerun_old(state: EmulatorState, now: int) -> dict[str, Any] | None:
    """Re-run the newest failed workflow of a pipeline older than ``RERUN_MIN_AGE`` (once per pipeline)."""
    for p in state.iter_pipelines(until_ms=now - RERUN_MIN_AGE):
        if p.id in state.rerun_pipelines:
            continue
        for wf in state.visible_workflows(p):
            if wf.final_status == "failed" and wf.final_ms <= now and wf.rerun_of is None:
                new = rerun_workflow(wf, now)
                _replan_rerun(new, now)
                p.workflows.append(new)
                state.index_workflow(new)
                state.rerun_pipelines.add(p.id)
                age = now - p.created_ms
                return {"workflow_id": new.id, "pipeline_id": p.id, "rerun_of": wf.id, "pipeline_age_ms": age}
    return None


def _replan_rerun(wf: Workflow, at_ms: int) -> None:
    """A re-run's jobs run one after another for a minute each (``rerun_workflow`` ends them at once)."""
    t = at_ms
    for job in wf.jobs:
        job.ready_ms = t + 5 * SECOND_MS
        if job.is_approval:
            job.approved_ms = job.ready_ms + MINUTE_MS
            t = job.approved_ms
        else:
            job.started_ms = job.ready_ms + 5 * SECOND_MS
            job.stopped_ms = t = job.started_ms + MINUTE_MS
    wf.final_ms = max(j.end_ms for j in wf.jobs)


def control(state: EmulatorState, name: str, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /_emulator/hold`` and ``POST /_emulator/changes`` (see :mod:`.control`)."""
    if name == "hold":
        return hold_approvals(state, int(body.get("count", 8)))
    return apply_changes(state, int(body["round"]))
