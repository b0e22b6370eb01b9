"""Generated data: deterministic, realistic in the ways the product must cope with, fast."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime, timedelta, timezone

import pytest

from analytics_provider.testing.emulator import RESOURCES, EmulatorState
from analytics_provider.testing.emulator.model import parse_time

NOW = parse_time("2026-11-20T12:00:00Z")


def _state(seed: int = 12, days: int = 3, scale: float = 1.0, now: int = NOW) -> EmulatorState:
    return EmulatorState(seed, days, now, scale)


def _all(state: EmulatorState) -> dict[str, list]:
    return {r: state.truth(r) for r in RESOURCES}


def test_same_inputs_give_identical_truth() -> None:
    assert _all(_state()) == _all(_state())


def test_seed_and_now_change_the_data() -> None:
    base = _state().truth("pipelines")
    assert _state(seed=13).truth("pipelines") != base
    assert _state(now=NOW + 3_600_000).truth("pipelines") != base


def test_lazy_build_order_does_not_matter() -> None:
    a, b = _state(days=10), _state(days=10)
    old = a.truth("workflow")[-1]
    b.workflow(old["id"])  # builds the oldest segment first
    assert a.truth("workflow_jobs") == b.truth("workflow_jobs")
    a.advance(30)
    a.advance(90)
    b.advance(120)
    assert _all(a) == _all(b)


def test_orgs_projects_contexts() -> None:
    state = _state()
    orgs = state.truth("self_collaborations")
    assert [o["vcs-type"] for o in orgs] == ["circleci", "github"]
    assert orgs[0]["slug"] == f"circleci/{orgs[0]['id']}"
    assert re.fullmatch(r"gh/[\w-]+", orgs[1]["slug"])
    for org in orgs:
        projects = [p for p in state.truth("specific_project") if p["organization_id"] == org["id"]]
        assert 3 <= len(projects) <= 4
        assert all(p["slug"].startswith(org["slug"] + "/") for p in projects)
        assert 2 <= len([c for c in state.truth("context") if c["owner_id"] == org["id"]]) <= 4


def test_job_numbers_are_unique_per_project_only() -> None:
    jobs = _state(days=30).truth("jobs")
    projects_by_number = defaultdict(set)
    for job in jobs:
        projects_by_number[job["number"]].add(job["project_slug"])
    assert len({(j["project_slug"], j["number"]) for j in jobs}) == len(jobs)
    assert any(len(slugs) > 1 for slugs in projects_by_number.values())


def test_recent_work_is_open_and_old_work_final() -> None:
    state = _state(days=30)
    workflows = state.truth("workflow")
    cutoff = (datetime.fromtimestamp(NOW / 1000, timezone.utc) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    open_ = [w for w in workflows if w["stopped_at"] is None]
    assert {w["status"] for w in open_} >= {"running", "on_hold"}
    assert all(w["created_at"] > cutoff for w in open_)
    assert {w["status"] for w in workflows} >= {"success", "failed"}
    jobs = state.truth("workflow_jobs")
    approvals = [j for j in jobs if j["type"] == "approval"]
    assert approvals and all("job_number" not in j and j["started_at"] is None for j in approvals)
    assert {j["status"] for j in approvals} >= {"success", "on_hold"}
    waiting = [j for j in jobs if j["type"] == "build" and j["started_at"] is None]
    assert waiting and all("job_number" not in j for j in waiting)
    assert len(state.truth("jobs")) == len([j for j in jobs if "job_number" in j])


def test_pipeline_shapes() -> None:
    pipelines = _state(days=30).truth("pipelines")
    assert {p["state"] for p in pipelines} == {"created", "errored"}
    assert all(p["errors"] for p in pipelines if p["state"] == "errored")
    assert {p["trigger"]["type"] for p in pipelines} >= {"webhook", "api"}
    assert any("tag" in p["vcs"] for p in pipelines)
    assert any(p["vcs"].get("branch") == "feature/ünïcode-λ" for p in pipelines)


@pytest.mark.parametrize(("scale", "per_day"), [(1.0, 20), (12.0, 500), (100.0, 4000)])
def test_a_day_is_generated_once_at_its_scale(scale: float, per_day: int) -> None:
    # how fast generation is belongs to bench/, not to a timed test on a shared machine
    state = _state(days=1, scale=scale)
    first = state.segment(0)
    assert len(first.pipelines) >= per_day
    assert state.segment(0) is first


def test_building_state_is_lazy() -> None:
    state = _state(days=90, scale=100)
    state.truth("pipelines", since="2026-11-20T11:00:00Z")
    assert len(state.segments) == 1
