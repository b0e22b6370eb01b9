"""The API's route table: URL template -> handler. Handlers see a parsed :class:`Request`
and return a :class:`Response`; HTTP, auth, limits and faults live in :mod:`.server`."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import insights, insights_runs, job_tests, legacy, usage_export, v3, views
from .model import Job
from .pagination import PAGE_SIZE, PageTokenError, PageTokens, page_after
from .state import EmulatorState

JSON = "application/json"


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]
    query: dict[str, list[str]]
    headers: Any  # email.message.Message: case-insensitive .get()
    body: bytes = b""

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Response:
    status: int
    body: Any
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)


def error(status: int, message: str) -> Response:
    return Response(status, {"message": message})


Handler = Callable[["Api", Request], Response]


@dataclass(frozen=True)
class Route:
    template: str
    handler: Handler
    paginated: bool = False
    child_list: bool = False
    methods: tuple[str, ...] = ("GET",)
    pattern: re.Pattern[str] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        # A project slug spans several path segments ("gh/acme/api"); other parameters one.
        parts = re.split(r"\{(\w+)\}", self.template)
        regex = "".join(
            re.escape(part) if i % 2 == 0 else f"(?P<{part}>{'.+?' if part == 'project_slug' else '[^/]+'})"
            for i, part in enumerate(parts)
        )
        object.__setattr__(self, "pattern", re.compile(f"^{regex}$"))


class Api:
    """Handlers of the served API over one :class:`EmulatorState`."""

    def __init__(self, state: EmulatorState, tokens: PageTokens) -> None:
        self.state = state
        self.tokens = tokens
        self.usage = usage_export.UsageExports(state, secret=f"usage:{state.seed}")

    # -- v2 -------------------------------------------------------------------------------
    def me(self, req: Request) -> Response:
        return Response(200, views.me(self.state.world.me))

    def collaborations(self, req: Request) -> Response:
        return Response(200, [views.collaboration(o) for o in self.state.world.orgs])

    def contexts(self, req: Request) -> Response:
        owner = req.arg("owner-id") or req.arg("owner-slug")
        if not owner:
            return error(400, "Either owner-id or owner-slug is required.")
        org = self.state.org(owner)
        if org is None:
            return error(404, "Owner not found.")
        with self.state.lock:
            return self._paged(req, f"context:{org.id}", org.contexts, lambda c: c.id, views.context)

    def pipelines(self, req: Request) -> Response:
        slug = req.arg("org-slug")
        if not slug:
            return error(400, "The org-slug query parameter is required.")
        org = self.state.org(slug)
        if org is None:
            return error(404, "Organization not found.")
        scope = f"pipeline:{org.id}"
        token = req.arg("page-token")
        after = None
        if token:
            try:
                ms, pid = self.tokens.decode(scope, token)
                after = (int(ms), str(pid))
            except (PageTokenError, TypeError, ValueError):
                return error(400, "Invalid page-token.")
        with self.state.lock:
            items, next_key = self.state.org_pipelines_page(org, after, PAGE_SIZE)
            rows = [views.pipeline(p) for p in items]
        next_token = None if next_key is None else self.tokens.encode(scope, list(next_key))
        return Response(200, {"items": rows, "next_page_token": next_token})

    def pipeline_workflows(self, req: Request) -> Response:
        state = self.state
        with state.lock:
            p = state.pipeline(req.params["pipeline_id"])
            if p is None:
                return error(404, "Pipeline not found.")
            wfs = state.visible_workflows(p)
            if not wfs:
                return error(404, "No workflows found for this pipeline.")
            now = state.now_ms
            return self._paged(req, f"pwf:{p.id}", wfs, lambda w: w.id, lambda w: views.workflow(w, now))

    def workflow(self, req: Request) -> Response:
        with self.state.lock:
            wf = self.state.workflow(req.params["workflow_id"])
            if wf is None:
                return error(404, "Workflow not found.")
            return Response(200, views.workflow(wf, self.state.now_ms))

    def workflow_jobs(self, req: Request) -> Response:
        with self.state.lock:
            wf = self.state.workflow(req.params["workflow_id"])
            if wf is None:
                return error(404, "Workflow not found.")
            now = self.state.now_ms
            return self._paged(req, f"wfjob:{wf.id}", wf.jobs, lambda j: j.id, lambda j: views.workflow_job(j, now))

    def project(self, req: Request) -> Response:
        project = self.state.project(req.params["project_slug"])
        if project is None:
            return error(404, "Project not found.")
        return Response(200, views.project(project))

    def find_job(self, req: Request) -> Job | Response:
        """The started job the path's `project_slug` and `job_number` name, or the error answer
        (callers hold the lock)."""
        project = self.state.project(req.params["project_slug"])
        number = req.params["job_number"]
        if project is None:
            return error(404, "Project not found.")
        if not number.isdigit():
            return error(400, f"Invalid job number: {number}")
        job = self.state.job(project, int(number))
        return error(404, "Job not found.") if job is None else job

    def job(self, req: Request) -> Response:
        with self.state.lock:
            job = self.find_job(req)
            if isinstance(job, Response):
                return job
            return Response(200, views.job_detail(job, self.state.now_ms))

    def insights_summary(self, req: Request) -> Response:
        project = self.state.project(req.params["project_slug"])
        if project is None:
            return error(404, "Project not found.")
        window = req.arg("reporting-window") or insights.DEFAULT_WINDOW
        if window not in insights.REPORTING_WINDOWS:
            return error(400, f"Invalid reporting-window; allowed: {', '.join(insights.REPORTING_WINDOWS)}")
        with self.state.lock:
            return Response(200, insights.summary(self.state, project, window))

    def insights_branches(self, req: Request) -> Response:
        project = self.state.project(req.params["project_slug"])
        if project is None:
            return error(404, "Project not found.")
        return Response(200, insights.branches(project))

    def usage_export_create(self, req: Request) -> Response:
        return usage_export.handle_create(self.usage, req)

    def usage_export_status(self, req: Request) -> Response:
        return usage_export.handle_status(self.usage, req)

    # -- v1.1 -----------------------------------------------------------------------------
    def v11_me(self, req: Request) -> Response:
        return legacy.with_sunset(self.state, _v11(req, legacy.v11_me(self.state.world)))

    def v11_projects(self, req: Request) -> Response:
        branches = self.state.v11_branches and req.arg("shallow") != "true"
        return legacy.with_sunset(self.state, _v11(req, legacy.v11_projects(self.state.world, branches)))

    # -- helpers --------------------------------------------------------------------------
    def _paged(
        self,
        req: Request,
        scope: str,
        items: list[Any],
        key: Callable[[Any], str],
        render: Callable[[Any], dict[str, Any]],
    ) -> Response:
        token = req.arg("page-token")
        try:
            cursor = self.tokens.decode(scope, token) if token else None
            page, next_key = page_after(items, key, cursor)
        except PageTokenError:
            return error(400, "Invalid page-token.")
        next_token = None if next_key is None else self.tokens.encode(scope, next_key)
        return Response(200, {"items": [render(i) for i in page], "next_page_token": next_token})


def _v11(req: Request, body: Any) -> Response:
    if JSON in (req.headers.get("Accept") or ""):
        return Response(200, body)
    return Response(200, legacy.to_edn(body).encode(), content_type="application/edn; charset=utf-8")


ROUTES: list[Route] = [
    Route("/v2/me", Api.me),
    Route("/v2/me/collaborations", Api.collaborations),
    Route("/v2/context", Api.contexts, paginated=True),
    Route("/v2/pipeline", Api.pipelines, paginated=True),
    Route("/v2/pipeline/{pipeline_id}/workflow", Api.pipeline_workflows, paginated=True, child_list=True),
    Route("/v2/workflow/{workflow_id}", Api.workflow),
    Route("/v2/workflow/{workflow_id}/job", Api.workflow_jobs, paginated=True, child_list=True),
    Route("/v2/project/{project_slug}/job/{job_number}", Api.job),
    Route("/v2/project/{project_slug}/{job_number}/tests", job_tests.list_tests, paginated=True),
    Route("/v2/project/{project_slug}", Api.project),
    Route("/v2/insights/pages/{project_slug}/summary", Api.insights_summary),
    Route("/v2/insights/{project_slug}/branches", Api.insights_branches),
    Route("/v2/insights/{project_slug}/flaky-tests", job_tests.list_flaky_tests),
    Route("/v2/insights/{project_slug}/workflows", insights_runs.list_workflows, paginated=True),
    Route("/v2/insights/{project_slug}/workflows/{workflow_name}", insights_runs.list_runs, paginated=True),
    Route("/v2/organizations/{org_id}/usage_export_job", Api.usage_export_create, methods=("POST",)),
    Route("/v2/organizations/{org_id}/usage_export_job/{usage_export_job_id}", Api.usage_export_status),
    Route("/v1.1/me", Api.v11_me),
    Route("/v1.1/projects", Api.v11_projects),
    Route("/v3/projects", v3.list_projects, paginated=True),
]


def match(path: str) -> tuple[Route, dict[str, str]] | tuple[None, None]:
    for route in ROUTES:
        m = route.pattern.match(path)
        if m:
            return route, m.groupdict()
    return None, None
