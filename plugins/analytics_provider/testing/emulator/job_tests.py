"""Test results of a job (``/v2/project/{slug}/{job-number}/tests``) and the flaky tests insights
derive from them (``/v2/insights/{slug}/flaky-tests``).

Each job template that runs tests has a fixed suite (files, classnames, unicode names, one test
name reported twice, some always skipped, some flaky). A finished job's results are drawn from
its id, so they never change once it is final: a flaky test that fails is retried in the same
job and passes (a failure and a success of one test in one commit: what the API calls flaky), a
failed job fails one or two tests for good. A job whose template runs no tests, an approval, a
job not started or not finished, and a canceled job have no test metadata: 404, as the service
answers for a job without tests.

Flaky tests are those results over the last ``FLAKY_DAYS`` (a test stops being flaky two weeks
after its last flake), one item per test and job name, naming its latest flake.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .model import DAY_MS, Job, Project, fmt_s
from .views import job_status

if TYPE_CHECKING:
    from .routes import Api, Request, Response
    from .state import EmulatorState

FLAKY_DAYS = 14
_WITH_RESULTS = ("success", "failed")


@dataclass(frozen=True, slots=True)
class TestCase:
    file: str
    classname: str
    name: str
    kind: str  # "ok" | "flaky" | "skip"
    source: str


def _suite(job_name: str, source: str, folder: str, count: int) -> tuple[TestCase, ...]:
    rng = random.Random(f"suite:{job_name}")
    verbs = ["parses", "retries", "rejects", "merges", "pages", "renders", "caches", "résout", "überprüft", "计算"]
    nouns = ["empty page", "unicode slug", "expired token", "large payload", "null field", "λ expression", "ñ branch"]
    cases: list[TestCase] = []
    for i in range(count):
        module = f"{folder}/test_{['client', 'loader', 'schema', 'auth'][i % 4]}"
        kind = "flaky" if i % 7 == 3 else "skip" if i % 9 == 5 else "ok"
        name = f"test {rng.choice(verbs)} {rng.choice(nouns)} #{i}"
        classname = module.replace("/", ".") + ".Test" + job_name.title().replace("-", "")
        extension = {"pytest": ".py", "jest": ".test.js"}.get(source, ".java")
        cases.append(TestCase(f"{module}{extension}", classname, name, kind, source))
    # one test name reported twice by one job (a parametrised test whose ids collide)
    twice = cases[0]
    cases.append(TestCase(twice.file, twice.classname, twice.name, "ok", source))
    return tuple(cases)


SUITES: dict[str, tuple[TestCase, ...]] = {
    "unit-tests": _suite("unit-tests", "pytest", "tests/unit", 24),
    "unit-tests-py": _suite("unit-tests-py", "pytest", "tests/unit", 18),
    "unit-tests-js": _suite("unit-tests-js", "jest", "src/__tests__", 16),
    "integration-tests": _suite("integration-tests", "pytest", "tests/integration", 12),
    "smoke-tests": _suite("smoke-tests", "junit", "smoke", 5),
    "e2e-tests": _suite("e2e-tests", "junit", "e2e", 9),
    "test": _suite("test", "jest", "test", 14),
}


def has_results(job: Job, now: int) -> bool:
    return job.template.name in SUITES and not job.is_approval and job_status(job, now) in _WITH_RESULTS


def results(job: Job, now: int) -> list[dict[str, Any]]:
    """The job's test results in the order the service lists them (``[]`` when it has none)."""
    if not has_results(job, now):
        return []
    rng = random.Random(f"tests:{job.id}")
    out: list[dict[str, Any]] = []
    for case in SUITES[job.template.name]:
        if case.kind == "skip":
            out.append(_result(case, "skipped", 0.0, "Skipped: needs a GPU runner"))
            continue
        if case.kind == "flaky" and rng.random() < 0.4:
            out.append(_result(case, "failure", _run_time(rng), "AssertionError: timed out waiting for the server"))
        out.append(_result(case, "success", _run_time(rng), None))
    if job_status(job, now) == "failed":
        ran = [i for i, r in enumerate(out) if r["result"] == "success"]
        for i in rng.sample(ran, min(len(ran), 1 + (rng.random() < 0.3))):
            out[i] = {**out[i], "result": "failure", "message": f"AssertionError: expected 200, got 5{i % 10:02d}"}
    return out


def _result(case: TestCase, result: str, run_time: float, message: str | None) -> dict[str, Any]:
    return {
        "message": message,
        "source": case.source,
        "run_time": run_time,
        "file": case.file,
        "result": result,
        "name": case.name,
        "classname": case.classname,
    }


def _run_time(rng: random.Random) -> float:
    return round(rng.uniform(0.002, 4.0), 3)


def flaky_tests(state: EmulatorState, project: Project) -> dict[str, Any]:
    """``/v2/insights/{slug}/flaky-tests``: tests that failed and passed in one job within
    ``FLAKY_DAYS``, one item per (test, job name) naming its latest flake (callers hold the lock)."""
    now = state.now_ms
    since = now - FLAKY_DAYS * DAY_MS
    found: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for p in state.iter_pipelines(since, now + 1):
        if p.project is not project:
            continue
        for wf in state.visible_workflows(p):
            if wf.created_ms < since:
                continue
            for job in wf.jobs:
                for (classname, name, file), wasted in _flakes(job, now).items():
                    key = (classname, name, file, job.template.name)
                    item = found.get(key)
                    if item is None:
                        item = found[key] = {"times-flaked": 0, "time-wasted": 0}
                    item["times-flaked"] += 1
                    item["time-wasted"] += wasted
                    if item.get("_at", (-1, "")) < (wf.created_ms, job.id):
                        item.update(
                            {
                                "_at": (wf.created_ms, job.id),
                                "workflow-created-at": fmt_s(wf.created_ms),
                                "workflow-id": wf.id,
                                "classname": classname,
                                "pipeline-number": p.number,
                                "workflow-name": wf.name,
                                "test-name": name,
                                "job-name": job.template.name,
                                "job-number": job.number,
                                "source": SUITES[job.template.name][0].source,
                                "file": file,
                            }
                        )
    items = [{k: v for k, v in item.items() if k != "_at"} for _, item in sorted(found.items())]
    return {"flaky-tests": items, "total-flaky-tests": len({(i["classname"], i["test-name"]) for i in items})}


def _flakes(job: Job, now: int) -> dict[tuple[str, str, str], int]:
    """Tests of ``job`` with a failure and a success: (classname, name, file) -> seconds the
    failures took."""
    by_test: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in results(job, now):
        by_test.setdefault((r["classname"], r["name"], r["file"]), []).append(r)
    return {
        key: int(sum(r["run_time"] for r in rs if r["result"] == "failure"))
        for key, rs in by_test.items()
        if {"failure", "success"} <= {r["result"] for r in rs}
    }


def truth_job_tests(state: EmulatorState, jobs: list[Job]) -> list[dict[str, Any]]:
    now = state.now_ms
    return [
        {**r, "project_slug": job.workflow.pipeline.project.slug, "job_number": job.number}
        for job in jobs
        for r in results(job, now)
    ]


def truth_flaky_tests(state: EmulatorState, projects: list[Project]) -> list[dict[str, Any]]:
    return [{**item, "project_slug": p.slug} for p in projects for item in flaky_tests(state, p)["flaky-tests"]]


# -- handlers (registered in routes.py) ------------------------------------------------------
def list_tests(api: Api, req: Request) -> Response:
    from .routes import Response, error

    with api.state.lock:
        job = api.find_job(req)
        if isinstance(job, Response):
            return job
        now = api.state.now_ms
        if not has_results(job, now):
            return error(404, "No test metadata for this job.")
        found = list(enumerate(results(job, now)))
        return api._paged(req, f"tests:{job.id}", found, lambda item: str(item[0]), lambda item: item[1])


def list_flaky_tests(api: Api, req: Request) -> Response:
    from .routes import Response, error

    project = api.state.project(req.params["project_slug"])
    if project is None:
        return error(404, "Project not found.")
    with api.state.lock:
        return Response(200, flaky_tests(api.state, project))
