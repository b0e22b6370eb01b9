"""Ground truth: every row of a resource as the API would serve it at ``now``.

Rows are the served objects; child rows get their parent ids added (``workflow_jobs`` ->
``workflow_id``, ``jobs`` -> ``project_slug``, ``context`` -> ``owner_id``, insights ->
``project_slug``, ``job_tests`` -> ``project_slug`` and ``job_number``). ``since``/``until``
(ISO-8601, ``since <= created_at < until``) apply to
the ``created_at`` of the pipeline a row belongs to (for ``pipelines``, their own); they are
ignored by resources that do not hang off pipelines.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import insights, insights_runs, job_tests, legacy, v3, views
from .model import Pipeline, parse_time

if TYPE_CHECKING:
    from .state import EmulatorState

RESOURCES = (
    "context",
    "self_ids",
    "self_collaborations",
    "me",
    "projects",
    "projects_v3",
    "pipelines",
    "pipeline_workflows",
    "specific_project",
    "jobs",
    "workflow",
    "insights_metrics",
    "insights_branches",
    "workflow_jobs",
    "workflow_runs",
    "job_tests",
    "flaky_tests",
)


def rows(state: EmulatorState, resource: str, since: str | None, until: str | None) -> list[dict[str, Any]]:
    """Raises ``ValueError`` for an unknown resource or a bad ``since``/``until``."""
    if resource not in RESOURCES:
        raise ValueError(f"unknown resource `{resource}`; known: {', '.join(RESOURCES)}")
    world, now = state.world, state.now_ms
    projects = [p for org in world.orgs for p in org.projects]
    if resource == "context":
        return [{**views.context(c), "owner_id": o.id} for o in world.orgs for c in o.contexts]
    if resource == "self_ids":
        return [views.me(world.me)]
    if resource == "self_collaborations":
        return [views.collaboration(o) for o in world.orgs]
    if resource == "me":
        return [legacy.v11_me(world)]
    if resource == "projects":
        return legacy.v11_projects(world, branches=state.v11_branches)
    if resource == "projects_v3":
        return v3.projects_of(world)
    if resource == "specific_project":
        return [views.project(p) for p in projects]
    if resource == "insights_metrics":
        return [{**insights.summary(state, p), "project_slug": p.slug} for p in projects]
    if resource == "insights_branches":
        return [{**insights.branches(p), "project_slug": p.slug} for p in projects]
    if resource == "workflow_runs":  # insights: finished runs of the last 90 days, whatever `since`
        return insights_runs.truth_rows(state, projects)
    if resource == "flaky_tests":  # insights: the last 14 days, whatever `since`
        return job_tests.truth_flaky_tests(state, projects)
    pipelines = _pipelines(state, since, until)
    if resource == "pipelines":
        return [views.pipeline(p) for p in pipelines]
    workflows = [wf for p in pipelines for wf in state.visible_workflows(p)]
    if resource in ("pipeline_workflows", "workflow"):
        return [views.workflow(wf, now) for wf in workflows]
    if resource == "workflow_jobs":
        return [{**views.workflow_job(j, now), "workflow_id": wf.id} for wf in workflows for j in wf.jobs]
    if resource == "job_tests":
        return job_tests.truth_job_tests(state, [j for wf in workflows for j in wf.jobs])
    return [
        {**views.job_detail(j, now), "project_slug": wf.pipeline.project.slug}
        for wf in workflows
        for j in wf.jobs
        if views.job_started(j, now)
    ]


def _pipelines(state: EmulatorState, since: str | None, until: str | None) -> list[Pipeline]:
    return list(state.iter_pipelines(parse_time(since) if since else None, parse_time(until) if until else None))
