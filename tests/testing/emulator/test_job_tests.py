"""Test results (`/v2/project/{slug}/{job-number}/tests`) and flaky tests
(`/v2/insights/{slug}/flaky-tests`): schema-checked against CircleCI's OpenAPI description,
realistic (unicode names, a name reported twice by one job, skipped and failed tests, files and
classnames, several pages), 404 for a job without test metadata, and flaky tests consistent with
the results the same emulator serves."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest

from analytics_provider.testing.emulator.job_tests import SUITES

from .conftest import Client
from .openapi import validator

pytestmark = pytest.mark.integration


def _valid(path: str, body: Any) -> None:
    errors = sorted(validator(path).iter_errors(body), key=lambda e: list(e.path))
    assert not errors, f"{path}: " + "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:5])


def _results(client: Client, slug: str, number: int) -> list[dict[str, Any]] | None:
    r = client.get(f"/v2/project/{slug}/{number}/tests")
    if r.status_code == 404:
        assert "message" in r.json()
        return None
    items = []
    for page in client.pages(f"/v2/project/{slug}/{number}/tests"):
        _valid("/project/{project-slug}/{job-number}/tests", page)
        items += page["items"]
    return items


def test_test_results_are_served_as_described(client: Client) -> None:
    seen: Counter[str] = Counter()
    truth_rows = client.emu.truth("job_tests")
    for job in client.emu.truth("jobs"):
        results = _results(client, job["project_slug"], job["number"])
        if results is None:
            seen["404"] += 1
            assert job["status"] not in ("success", "failed") or job["name"] not in SUITES, job
            continue
        assert job["status"] in ("success", "failed"), "only finished jobs have results"
        seen["jobs"] += 1
        seen["paged"] += len(results) > 20
        names = Counter((r["classname"], r["name"]) for r in results)
        seen["twice"] += max(names.values()) > 1
        seen["unicode"] += any(not r["name"].isascii() for r in results)
        by = Counter(r["result"] for r in results)
        seen["skipped"] += by["skipped"] > 0
        if job["status"] == "failed":
            assert by["failure"] > 0, "a failed job fails a test"
        assert all(r["file"].endswith((".py", ".test.js", ".java")) and r["classname"] for r in results)
        truth = [
            {k: v for k, v in r.items() if k not in ("project_slug", "job_number")}
            for r in truth_rows
            if (r["project_slug"], r["job_number"]) == (job["project_slug"], job["number"])
        ]
        assert results == truth, "the truth lists what the endpoint serves, in order"
    assert all(seen[k] for k in ("404", "jobs", "paged", "twice", "unicode", "skipped")), seen


def test_a_job_without_tests_or_unknown_is_404(client: Client) -> None:
    job = next(j for j in client.emu.truth("jobs") if j["name"] == "lint")
    r = client.get(f"/v2/project/{job['project_slug']}/{job['number']}/tests")
    assert r.status_code == 404 and r.json()["message"]
    assert client.get(f"/v2/project/{job['project_slug']}/99999999/tests").status_code == 404
    assert client.get(f"/v2/project/{job['project_slug']}/abc/tests").status_code == 400


def test_flaky_tests_are_served_as_described_and_match_the_results(client: Client) -> None:
    flaky_seen = 0
    for project in client.emu.truth("specific_project"):
        body = client.json(f"/v2/insights/{project['slug']}/flaky-tests")
        _valid("/insights/{project-slug}/flaky-tests", body)
        items = body["flaky-tests"]
        assert body["total-flaky-tests"] == len({(i["classname"], i["test-name"]) for i in items})
        for item in items:
            flaky_seen += 1
            assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", item["workflow-created-at"])
            results = _results(client, project["slug"], item["job-number"])
            assert results is not None
            mine = {
                r["result"] for r in results if (r["classname"], r["name"]) == (item["classname"], item["test-name"])
            }
            assert {"failure", "success"} <= mine, "the latest flake named failed and passed in that job"
            assert item["times-flaked"] >= 1 and item["time-wasted"] >= 0
    assert flaky_seen
