"""Every served v2 endpoint's 200 responses validate against CircleCI's OpenAPI description."""

from __future__ import annotations

import re
from typing import Any

import pytest

from analytics_provider.testing.emulator.routes import ROUTES

from .conftest import Client
from .openapi import served_paths, validator

pytestmark = pytest.mark.integration

MS_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
S_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def _valid(path: str, body: Any) -> None:
    errors = sorted(validator(path).iter_errors(body), key=lambda e: list(e.path))
    assert not errors, f"{path}: " + "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:5])


def test_every_served_v2_route_has_a_schema() -> None:
    served = {re.sub(r"\{\w+\}", "{}", r.template.removeprefix("/v2")) for r in ROUTES if r.template.startswith("/v2")}
    described = {re.sub(r"\{[\w-]+\}", "{}", p) for p in served_paths()}
    assert served == described


def test_org_level_endpoints(client: Client) -> None:
    _valid("/me", client.json("/v2/me"))
    orgs = client.json("/v2/me/collaborations")
    _valid("/me/collaborations", orgs)
    assert {o["vcs-type"] for o in orgs} == {"circleci", "github"}
    for org in orgs:
        for params in ({"owner-id": org["id"]}, {"owner-slug": org["slug"]}):
            for page in client.pages("/v2/context", **params):
                _valid("/context", page)
        for page in client.pages("/v2/pipeline", **{"org-slug": org["slug"]}):
            _valid("/pipeline", page)
            for p in page["items"]:
                assert MS_TIME.match(p["created_at"]) and MS_TIME.match(p["trigger"]["received_at"])


def test_pipeline_children_and_job_details(client: Client) -> None:
    checked = {"workflows": 0, "jobs": 0, "details": 0, "approval": 0, "running": 0}
    for p in client.emu.truth("pipelines"):
        r = client.get(f"/v2/pipeline/{p['id']}/workflow")
        if p["state"] == "errored":
            assert r.status_code == 404 and "message" in r.json()
            continue
        assert r.status_code == 200
        _valid("/pipeline/{pipeline-id}/workflow", r.json())
        for wf in r.json()["items"]:
            checked["workflows"] += 1
            checked["running"] += wf["stopped_at"] is None
            assert S_TIME.match(wf["created_at"])
            _valid("/workflow/{id}", client.json(f"/v2/workflow/{wf['id']}"))
            for page in client.pages(f"/v2/workflow/{wf['id']}/job"):
                _valid("/workflow/{id}/job", page)
                for job in page["items"]:
                    checked["jobs"] += 1
                    checked["approval"] += job["type"] == "approval"
                    if "job_number" in job:
                        detail = client.json(f"/v2/project/{job['project_slug']}/job/{job['job_number']}")
                        _valid("/project/{project-slug}/job/{job-number}", detail)
                        assert S_TIME.match(detail["started_at"])
                        checked["details"] += 1
    assert all(checked.values()), checked


def test_project_and_insights(client: Client) -> None:
    projects = client.emu.truth("specific_project")
    assert len(projects) >= 6
    for project in projects:
        slug = project["slug"]
        short = "/".join(slug.split("/")[-2:])
        for form in (slug, short, slug.replace("/", "%2F")):
            body = client.json(f"/v2/project/{form}")
            _valid("/project/{project-slug}", body)
            assert body["id"] == project["id"]
        _valid("/insights/{project-slug}/branches", client.json(f"/v2/insights/{short}/branches"))
        for window in ("last-24-hours", "last-7-days", "last-90-days"):
            body = client.json(f"/v2/insights/pages/{short}/summary", **{"reporting-window": window})
            _valid("/insights/pages/{project-slug}/summary", body)
        _valid("/insights/pages/{project-slug}/summary", client.json(f"/v2/insights/pages/{slug}/summary"))
