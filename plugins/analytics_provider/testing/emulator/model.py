"""Records of the emulated CircleCI world.

All times are integer milliseconds since the Unix epoch (UTC). A pipeline, workflow or job is
stored as a *plan*: when it starts, stops and how it ends. What the API shows (``running``,
``on_hold``, ``stopped_at: null`` ...) is derived from the plan and the emulator's current
``now`` in :mod:`.views`, so moving ``now`` forward lets recent work progress on its own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

SECOND_MS = 1_000
MINUTE_MS = 60 * SECOND_MS
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS

#: Job numbers are allocated in blocks per pipeline: ``number * JOB_BLOCK + slot + 1``.
JOB_BLOCK = 32
#: First slot of a block reserved for a re-run workflow's jobs.
RERUN_SLOT = 24


def fmt_ms(ms: int) -> str:
    """``2026-11-20T10:31:58.517Z`` (pipelines, contexts)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def fmt_s(ms: int) -> str:
    """``2026-11-20T10:31:58Z`` (workflows, jobs)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms // 1000))


def fmt_opt_s(ms: int | None) -> str | None:
    return None if ms is None else fmt_s(ms)


def parse_time(value: str | datetime) -> int:
    """ISO-8601 (``Z`` or offset; naive means UTC) or datetime -> epoch milliseconds."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return round(value.timestamp() * 1000)


@dataclass(slots=True)
class User:
    id: str
    login: str
    name: str
    avatar_url: str


@dataclass(slots=True)
class Context:
    id: str
    name: str
    created_ms: int
    org_id: str
    mutated: bool = False


@dataclass(slots=True)
class Org:
    id: str
    name: str
    slug: str
    vcs_type: str  # "circleci" or "github"
    avatar_url: str
    members: list[User] = field(default_factory=list)
    contexts: list[Context] = field(default_factory=list)
    projects: list[Project] = field(default_factory=list)


@dataclass(slots=True)
class JobTemplate:
    name: str
    type: str  # "build" or "approval"
    deps: tuple[int, ...]
    min_s: int
    max_s: int
    parallelism: int = 1
    resource_class: str = "medium"
    executor_type: str = "docker"
    contexts: tuple[str, ...] = ()


@dataclass(slots=True)
class Project:
    id: str
    name: str
    org: Org
    slug: str
    vcs_url: str
    default_branch: str
    branches: list[str]
    workflows: dict[str, list[JobTemplate]]
    weight: float
    number_base: int
    index: int  # position in World.projects

    @property
    def short_key(self) -> str:
        """The seed's two-part form ``{org_id}/{project_id}``: the slug's last two parts."""
        return "/".join(self.slug.split("/")[-2:])


@dataclass(slots=True)
class Pipeline:
    id: str
    project: Project
    number: int
    created_ms: int
    updated_ms: int
    state: str
    errors: list[dict[str, str]]
    trigger_type: str
    actor: User
    branch: str | None
    tag: str | None
    revision: str
    subject: str
    body: str
    segment: int
    workflows: list[Workflow] = field(default_factory=list)
    mutated: bool = False

    @property
    def key(self) -> tuple[int, str]:
        return (self.created_ms, self.id)


@dataclass(slots=True)
class Workflow:
    id: str
    pipeline: Pipeline
    name: str
    created_ms: int
    final_status: str  # success | failed | canceled
    final_ms: int  # when every job is final
    started_by: str
    jobs: list[Job] = field(default_factory=list)
    rerun_of: str | None = None
    status_override: str | None = None
    mutated: bool = False


@dataclass(slots=True)
class Job:
    """One job of a workflow.

    ``started_ms`` (build) / ``approved_ms`` (approval) is ``None`` when the job never runs
    (``final_status == "not_run"``, decided at ``not_run_ms``).
    """

    id: str
    workflow: Workflow
    template: JobTemplate
    slot: int
    deps: list[str]
    ready_ms: int
    started_ms: int | None
    stopped_ms: int | None
    approved_ms: int | None
    final_status: str  # success | failed | canceled | not_run
    not_run_ms: int | None
    status_override: str | None = None
    mutated: bool = False

    @property
    def number(self) -> int:
        return self.workflow.pipeline.number * JOB_BLOCK + self.slot + 1

    @property
    def is_approval(self) -> bool:
        return self.template.type == "approval"

    @property
    def end_ms(self) -> int:
        """When this job reaches its final status."""
        if self.final_status == "not_run":
            return self.not_run_ms or self.ready_ms
        if self.is_approval:
            return self.approved_ms or self.ready_ms
        return self.stopped_ms or self.ready_ms


@dataclass(slots=True)
class Segment:
    """The pipelines created in one 24-hour slot ``[start_ms, start_ms + DAY_MS)``."""

    index: int
    start_ms: int
    pipelines: list[Pipeline]
    #: org id -> (ascending keys, pipelines in the same order)
    by_org: dict[str, tuple[list[tuple[int, str]], list[Pipeline]]]
