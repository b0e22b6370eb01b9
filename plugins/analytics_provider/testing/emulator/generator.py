"""Deterministic data: the static world (orgs, projects, contexts, users) and, lazily, one
24-hour segment of pipelines with their workflows and job plans at a time.

Every random draw comes from a ``random.Random`` seeded with a string naming what it
generates (``"segment:<seed>:<index>"`` ...), so a segment is the same whichever order
segments are built in. Ids of pipelines, workflows and jobs carry their segment index, so an
id can be resolved by building just that segment.
"""

from __future__ import annotations

import random
import re
import time
from typing import TypeVar

from . import catalog
from .model import (
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    SECOND_MS,
    Context,
    Job,
    JobTemplate,
    Org,
    Pipeline,
    Project,
    Segment,
    User,
    Workflow,
)

#: Pipelines a working day over both orgs at scale 1.
BASE_PIPELINES_PER_DAY = 45
#: No plan keeps a workflow open longer than this (approval waits included).
MAX_OPEN_MS = 24 * HOUR_MS
RECENT_MS = 40 * MINUTE_MS

T = TypeVar("T")
_UUID_MASK = ~((0xF << 76) | (0x3 << 62))  # version nibble, variant bits
_UUID_BITS = (0x4 << 76) | (0x2 << 62)
_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def make_uuid(rng: random.Random, segment: int | None = None) -> str:
    """A version-4 UUID; with ``segment``, the second group is ``segment`` XOR two random groups."""
    b = (rng.getrandbits(128) & _UUID_MASK) | _UUID_BITS
    if segment is not None:
        b = (b & ~(0xFFFF << 80)) | ((((b >> 112) ^ (b >> 16) ^ segment) & 0xFFFF) << 80)
    h = f"{b:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def segment_of_id(uid: str) -> int | None:
    """The segment index encoded by :func:`make_uuid`, or ``None`` if ``uid`` is no UUID."""
    uid = uid.lower()
    if not _UUID_RE.match(uid):
        return None
    return int(uid[9:13], 16) ^ int(uid[0:4], 16) ^ int(uid[28:32], 16)


class World:
    """Static part of the data: one user, two orgs, their members, projects and contexts."""

    def __init__(self, seed: int, now_ms: int) -> None:
        rng = random.Random(f"world:{seed}")
        self.now_ms = now_ms
        members = [User(make_uuid(rng), login, name, _avatar(rng)) for login, name in catalog.LOGINS]
        self.me: User = members[0]
        cci_name = rng.choice(catalog.CIRCLECI_ORG_NAMES)
        gh_name = rng.choice(catalog.GITHUB_ORG_NAMES)
        cci_id, gh_id = make_uuid(rng), make_uuid(rng)
        self.orgs: list[Org] = [
            Org(cci_id, cci_name, f"circleci/{cci_id}", "circleci", _avatar(rng)),
            Org(gh_id, gh_name, f"gh/{gh_name}", "github", _avatar(rng)),
        ]
        self.projects: list[Project] = []
        for org, names in zip(self.orgs, (catalog.CIRCLECI_PROJECTS, catalog.GITHUB_PROJECTS), strict=True):
            org.members = [self.me, *rng.sample(members[1:], 4)]
            for ctx_name in rng.sample(catalog.CONTEXT_NAMES, rng.randint(2, 4)):
                created = now_ms - rng.randint(40, 700) * DAY_MS - rng.randrange(DAY_MS)
                org.contexts.append(Context(make_uuid(rng), ctx_name, created, org.id))
            org.contexts.sort(key=lambda c: (c.created_ms, c.id), reverse=True)
            for name in rng.sample(names, rng.randint(3, 4)):
                org.projects.append(self._project(rng, org, name))
        total = sum(p.weight for p in self.projects)
        self.weights = [p.weight / total for p in self.projects]
        self.org_by_id = {o.id: o for o in self.orgs}
        self.org_by_slug: dict[str, Org] = {}
        for org in self.orgs:
            self.org_by_slug[org.slug] = org
            if org.vcs_type == "github":
                self.org_by_slug["github/" + org.name] = org
        self.project_by_slug: dict[str, Project] = {}
        for p in self.projects:
            self.project_by_slug[p.slug] = p
            self.project_by_slug[p.short_key] = p
            if p.slug.startswith("gh/"):
                self.project_by_slug["github/" + p.short_key] = p

    def _project(self, rng: random.Random, org: Org, name: str) -> Project:
        pid = make_uuid(rng)
        if org.vcs_type == "circleci":
            slug, vcs_url = f"circleci/{org.id}/{pid}", f"//circleci.com/{org.id}/{pid}"
        else:
            slug, vcs_url = f"gh/{org.name}/{name}", f"https://github.com/{org.name}/{name}"
        index = len(self.projects)
        default = "master" if index == 1 else "main"
        branches = [default, *rng.sample(catalog.FEATURE_BRANCHES, rng.randint(2, 4))]
        if org.vcs_type == "github" and not org.projects:
            branches += catalog.UNICODE_BRANCHES
        wf_names = rng.sample(sorted(catalog.WORKFLOWS), rng.randint(2, 3))
        project = Project(
            id=pid,
            name=name,
            org=org,
            slug=slug,
            vcs_url=vcs_url,
            default_branch=default,
            branches=branches,
            workflows={n: catalog.WORKFLOWS[n] for n in wf_names},
            weight=rng.uniform(0.5, 2.0),
            number_base=rng.randint(1, 40),
            index=index,
        )
        self.projects.append(project)
        return project


def _avatar(rng: random.Random) -> str:
    return f"https://avatars.githubusercontent.com/u/{rng.randint(10_000, 9_999_999)}?v=4"


def segment_counts(
    seed: int, scale: float, segment: int, start_ms: int, weights: list[float], recent: bool
) -> list[int]:
    """Pipelines per project created in ``segment`` (cheap: no pipeline is built).

    Weekends (by the segment's start) are slow and some days have nothing at all. ``recent``
    marks the segment that ends at the initial ``now``: it is never empty and gets
    :func:`recent_burst` extra pipelines, so some work is still running at ``now``.
    """
    rng = random.Random(f"counts:{seed}:{segment}")
    weekend = time.gmtime(start_ms // 1000).tm_wday >= 5
    quiet = (rng.random() < (0.4 if weekend else 0.06)) and not recent
    level = rng.uniform(0.6, 1.4) * (0.3 if weekend else 1.0) * BASE_PIPELINES_PER_DAY * scale
    counts = []
    for w in weights:
        x = level * w * rng.uniform(0.7, 1.3)
        n = int(x) + (rng.random() < x - int(x))
        counts.append(0 if quiet else n)
    if recent:
        counts = [c + b for c, b in zip(counts, recent_burst(seed, len(weights)), strict=True)]
    return counts


def recent_burst(seed: int, n_projects: int) -> list[int]:
    """Pipelines per project created in the last 40 minutes before the initial ``now``."""
    rng = random.Random(f"burst:{seed}")
    return [rng.randint(0, 2) for _ in range(n_projects)]


def generate_segment(
    world: World,
    seed: int,
    segment: int,
    start_ms: int,
    counts: list[int],
    first_numbers: list[int],
    recent: bool,
) -> Segment:
    """All pipelines created in ``[start_ms, start_ms + DAY_MS)``, with workflows and jobs."""
    rng = random.Random(f"segment:{seed}:{segment}")
    burst = recent_burst(seed, len(counts)) if recent else [0] * len(counts)
    end = start_ms + DAY_MS
    pipelines: list[Pipeline] = []
    for project, count, extra, first in zip(world.projects, counts, burst, first_numbers, strict=True):
        times = [start_ms + int(rng.random() * DAY_MS) for _ in range(count - extra)]
        times += [end - _between(rng, 1, RECENT_MS - 1) for _ in range(extra)]
        times.sort()
        for i, created in enumerate(times):
            pipelines.append(_pipeline(rng, project, first + i, created, segment))
    pipelines.sort(key=lambda p: p.key)
    by_org: dict[str, tuple[list[tuple[int, str]], list[Pipeline]]] = {o.id: ([], []) for o in world.orgs}
    for p in pipelines:
        keys, items = by_org[p.project.org.id]
        keys.append(p.key)
        items.append(p)
    return Segment(segment, start_ms, pipelines, by_org)


def _pipeline(rng: random.Random, project: Project, number: int, created: int, segment: int) -> Pipeline:
    actor = rng.choice(project.org.members)
    trigger = _weighted(rng, _TRIGGERS)
    branch: str | None = project.default_branch if rng.random() < 0.5 else rng.choice(project.branches)
    tag = None
    if rng.random() < 0.03:
        branch, tag = None, f"v1.{number // 50}.{number % 50}"
    errored = rng.random() < 0.03
    errors = []
    if errored:
        kind, message = rng.choice(catalog.PIPELINE_ERRORS)
        errors.append({"type": kind, "message": message})
    pipeline = Pipeline(
        id=make_uuid(rng, segment),
        project=project,
        number=number,
        created_ms=created,
        updated_ms=created + _between(rng, 200, 4000),
        state="errored" if errored else "created",
        errors=errors,
        trigger_type=trigger,
        actor=actor,
        branch=branch,
        tag=tag,
        revision=f"{rng.getrandbits(160):040x}",
        subject=rng.choice(catalog.SUBJECTS).replace("{n}", str(number)),
        body=rng.choice(catalog.BODIES).replace("{n}", str(number)),
        segment=segment,
    )
    if not errored:
        k = min(len(project.workflows), _weighted(rng, _WORKFLOW_COUNTS))
        first_s = created // SECOND_MS * SECOND_MS + SECOND_MS
        slot = 0
        for i, name in enumerate(rng.sample(list(project.workflows), k)):
            wf = Workflow(make_uuid(rng, segment), pipeline, name, first_s + i * SECOND_MS, "success", 0, actor.id)
            plan_jobs(rng, wf, project.workflows[name], slot, segment)
            slot += len(wf.jobs)
            pipeline.workflows.append(wf)
    return pipeline


def plan_jobs(rng: random.Random, wf: Workflow, templates: list[JobTemplate], slot: int, segment: int) -> None:
    """Plan the jobs of ``wf`` along their dependencies; set its final status and time."""
    jobs: list[Job] = []
    for i, tp in enumerate(templates):
        deps = [jobs[d] for d in tp.deps]
        dep_end = max((d.end_ms for d in deps), default=wf.created_ms)
        ready = dep_end + _between(rng, 1, 5) * SECOND_MS
        job = Job(
            make_uuid(rng, segment), wf, tp, slot + i, [d.id for d in deps], ready, None, None, None, "success", None
        )
        if any(d.final_status != "success" for d in deps):
            job.final_status, job.not_run_ms = "not_run", dep_end
        elif tp.type == "approval":
            job.approved_ms = ready + _approval_wait(rng)
        else:
            job.started_ms = ready + _between(rng, 2, 30) * SECOND_MS
            job.stopped_ms = job.started_ms + _between(rng, tp.min_s, tp.max_s) * SECOND_MS
            r = rng.random()
            job.final_status = "failed" if r < 0.03 else "canceled" if r < 0.037 else "success"
        jobs.append(job)
    wf.jobs = jobs
    wf.final_ms = max(j.end_ms for j in jobs)
    statuses = {j.final_status for j in jobs}
    wf.final_status = "failed" if "failed" in statuses else "canceled" if "canceled" in statuses else "success"


def _approval_wait(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.4:
        return _between(rng, 1, 30) * MINUTE_MS
    if r < 0.8:
        return _between(rng, 30, 240) * MINUTE_MS
    return _between(rng, 240, 600) * MINUTE_MS


_TRIGGERS = (("webhook", 0.8), ("api", 0.9), ("scheduled_pipeline", 0.96), ("explicit", 1.0))
_WORKFLOW_COUNTS = ((1, 0.55), (2, 0.85), (3, 1.0))


def _between(rng: random.Random, low: int, high: int) -> int:
    """``rng.randint(low, high)``, several times cheaper (this is the generator's hot path)."""
    return low + int(rng.random() * (high - low + 1))


def _weighted(rng: random.Random, table: tuple[tuple[T, float], ...]) -> T:
    """Pick from ``(value, cumulative probability)`` pairs."""
    r = rng.random()
    for value, upto in table:
        if r < upto:
            return value
    return table[-1][0]
