"""Records -> the JSON objects the real API returns, as seen at a given ``now``."""

from __future__ import annotations

from typing import Any

from .model import (
    Context,
    Job,
    Org,
    Pipeline,
    Project,
    User,
    Workflow,
    fmt_ms,
    fmt_opt_s,
    fmt_s,
)

_OPEN_JOB = frozenset({"running", "queued"})


def job_status(job: Job, now: int) -> str:
    if job.status_override is not None and job.end_ms <= now:
        return job.status_override
    if job.final_status == "not_run":
        return "not_run" if job.not_run_ms is not None and job.not_run_ms <= now else "blocked"
    if job.is_approval:
        if job.approved_ms is not None and job.approved_ms <= now:
            return "success"
        return "on_hold" if job.ready_ms <= now else "blocked"
    if job.started_ms is not None and job.started_ms <= now:
        return job.final_status if job.stopped_ms is not None and job.stopped_ms <= now else "running"
    return "queued" if job.ready_ms <= now else "blocked"


def job_started(job: Job, now: int) -> bool:
    """A build job that has started has a ``job_number`` and a job-details record."""
    return not job.is_approval and job.started_ms is not None and job.started_ms <= now


def workflow_status(wf: Workflow, now: int) -> tuple[str, int | None]:
    """(status, stopped_at ms or None while open)."""
    if wf.final_ms <= now:
        return wf.status_override or wf.final_status, wf.final_ms
    statuses = {job_status(j, now) for j in wf.jobs}
    if "failed" in statuses:
        return "failing", None
    if "on_hold" in statuses and not statuses & _OPEN_JOB:
        return "on_hold", None
    return "running", None


def pipeline(p: Pipeline) -> dict[str, Any]:
    project = p.project
    received = p.created_ms - 17 - p.number % 400
    repo_url = _repo_url(project)
    vcs: dict[str, Any] = {
        "provider_name": "GitHub",
        "origin_repository_url": repo_url,
        "target_repository_url": repo_url,
        "revision": p.revision,
        "commit": {"subject": p.subject, "body": p.body},
    }
    git: dict[str, Any] = {"checkout_sha": p.revision, "commit_sha": p.revision, "repo_url": repo_url}
    if p.tag is not None:
        vcs["tag"] = git["tag"] = p.tag
    else:
        vcs["branch"] = git["branch"] = p.branch
    return {
        "id": p.id,
        "errors": list(p.errors),
        "project_slug": project.slug,
        "updated_at": fmt_ms(p.updated_ms),
        "number": p.number,
        "trigger_parameters": {
            "circleci": {
                "event_type": "schedule" if p.trigger_type == "scheduled_pipeline" else "push",
                "trigger_type": "github_app" if project.org.vcs_type == "circleci" else "webhook",
                "actor_id": p.actor.id,
                "event_time": fmt_ms(received),
            },
            "git": git,
        },
        "state": p.state,
        "created_at": fmt_ms(p.created_ms),
        "trigger": {
            "received_at": fmt_ms(received),
            "type": p.trigger_type,
            "actor": {"login": p.actor.login, "avatar_url": p.actor.avatar_url},
        },
        "vcs": vcs,
    }


def workflow(wf: Workflow, now: int) -> dict[str, Any]:
    status, stopped = workflow_status(wf, now)
    p = wf.pipeline
    out = {
        "pipeline_id": p.id,
        "id": wf.id,
        "name": wf.name,
        "project_slug": p.project.slug,
        "status": status,
        "started_by": wf.started_by,
        "pipeline_number": p.number,
        "created_at": fmt_s(wf.created_ms),
        "stopped_at": fmt_opt_s(stopped),
    }
    if status == "canceled":
        out["canceled_by"] = wf.started_by
    return out


def workflow_job(job: Job, now: int) -> dict[str, Any]:
    status = job_status(job, now)
    out: dict[str, Any] = {
        "dependencies": list(job.deps),
        "id": job.id,
        "name": job.template.name,
        "project_slug": job.workflow.pipeline.project.slug,
        "status": status,
        "type": job.template.type,
        "started_at": None,
        "stopped_at": None,
    }
    if job.is_approval:
        out["approval_request_id"] = job.id
        if status == "success":
            out["approved_by"] = job.workflow.started_by
    elif job_started(job, now):
        out["job_number"] = job.number
        out["started_at"] = fmt_opt_s(job.started_ms)
        if job.stopped_ms is not None and job.stopped_ms <= now:
            out["stopped_at"] = fmt_s(job.stopped_ms)
    if status == "canceled":
        out["canceled_by"] = job.workflow.started_by
    return out


def job_detail(job: Job, now: int) -> dict[str, Any]:
    """``/v2/project/{slug}/job/{number}`` of a started build job."""
    wf, tp = job.workflow, job.template
    p = wf.pipeline
    project = p.project
    status = job_status(job, now)
    stopped = job.stopped_ms if job.stopped_ms is not None and job.stopped_ms <= now else None
    started = job.started_ms or job.ready_ms
    web_slug = project.slug.replace("gh/", "github/", 1)
    messages = []
    if status == "canceled":
        messages.append({"type": "info", "message": "The job was canceled.", "reason": "canceled"})
    return {
        "web_url": f"https://app.circleci.com/pipelines/{web_slug}/{p.number}/workflows/{wf.id}/jobs/{job.number}",
        "project": {
            "id": project.id,
            "slug": project.slug,
            "name": project.name,
            "external_url": _repo_url(project),
        },
        "parallel_runs": [{"index": i, "status": status} for i in range(tp.parallelism)],
        "started_at": fmt_s(started),
        "latest_workflow": {"id": wf.id, "name": wf.name},
        "name": tp.name,
        "executor": {"resource_class": tp.resource_class, "type": tp.executor_type},
        "parallelism": tp.parallelism,
        "status": status,
        "number": job.number,
        "pipeline": {"id": p.id},
        "duration": None if stopped is None else stopped - started,
        "created_at": fmt_s(wf.created_ms),
        "messages": messages,
        "contexts": [{"name": c} for c in tp.contexts],
        "organization": {"name": project.org.name},
        "queued_at": fmt_s(min(job.ready_ms, started)),
        "stopped_at": fmt_opt_s(stopped),
    }


def project(p: Project) -> dict[str, Any]:
    org = p.org
    return {
        "slug": p.slug,
        "name": p.name,
        "id": p.id,
        "organization_name": org.name,
        "organization_slug": org.slug,
        "organization_id": org.id,
        "vcs_info": {
            "vcs_url": p.vcs_url,
            "provider": "CircleCI" if org.vcs_type == "circleci" else "GitHub",
            "default_branch": p.default_branch,
        },
    }


def collaboration(org: Org) -> dict[str, Any]:
    return {"id": org.id, "vcs-type": org.vcs_type, "name": org.name, "avatar_url": org.avatar_url, "slug": org.slug}


def context(c: Context) -> dict[str, Any]:
    return {"id": c.id, "name": c.name, "created_at": fmt_ms(c.created_ms)}


def me(user: User) -> dict[str, Any]:
    return {"id": user.id, "login": user.login, "name": user.name, "avatar_url": user.avatar_url}


def _repo_url(project: Project) -> str:
    if project.vcs_url.startswith("//"):
        return f"https://github.com/{project.org.name.lower().replace(' ', '-')}/{project.name}"
    return project.vcs_url
