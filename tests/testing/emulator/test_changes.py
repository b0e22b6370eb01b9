"""The emulator's change model (`changes.py`, `POST /_emulator/hold` and `/_emulator/changes`) and
the insights workflow endpoints it feeds, schema-checked against CircleCI's OpenAPI description."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from analytics_provider.testing.emulator import Emulator
from analytics_provider.testing.emulator.model import DAY_MS, parse_time

from .conftest import Client, make_emulator
from .openapi import validator

pytestmark = pytest.mark.integration


def _valid(path: str, body: Any) -> None:
    errors = sorted(validator(path).iter_errors(body), key=lambda e: list(e.path))
    assert not errors, f"{path}: " + "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:5])


@pytest.fixture
def month() -> Iterator[Emulator]:
    emu = make_emulator(days=20)
    yield emu
    emu.stop()


def _control(emu: Emulator, name: str, body: dict[str, Any]) -> dict[str, Any]:
    r = requests.post(f"{emu.base_url}/_emulator/{name}", json=body, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def _by_id(emu: Emulator, resource: str) -> dict[str, dict[str, Any]]:
    return {w["id"]: w for w in emu.truth(resource)}


def test_held_approvals_are_granted_canceled_and_old_failures_rerun(month: Emulator) -> None:
    held = _control(month, "hold", {"count": 6})["held_workflows"]
    assert len(held) == 6
    now = parse_time("2026-11-20T12:00:00Z")
    workflows = _by_id(month, "workflow")
    for wid in held:
        assert workflows[wid]["status"] in ("on_hold", "failing") and workflows[wid]["stopped_at"] is None
        created = parse_time(workflows[wid]["created_at"])
        assert now - created >= 8 * DAY_MS, "held approvals belong to pipelines older than 8 days"
    jobs = [j for j in month.truth("workflow_jobs") if j["workflow_id"] in held]
    assert {j["status"] for j in jobs if j["type"] == "approval"} >= {"on_hold"}

    first = _control(month, "changes", {"round": 1})
    after = _by_id(month, "workflow")
    assert 1 <= len(first["approvals_granted"]) <= 4
    assert after[first["canceled"]]["status"] == "canceled" and after[first["canceled"]]["stopped_at"]
    rerun = first["rerun"]
    assert rerun["pipeline_age_ms"] >= 2.5 * DAY_MS
    assert after[rerun["workflow_id"]]["pipeline_id"] == rerun["pipeline_id"]
    assert after[rerun["workflow_id"]]["status"] == "success", "the re-run finished within the round"
    pipeline = next(p for p in month.truth("pipelines") if p["id"] == rerun["pipeline_id"])
    assert parse_time(pipeline["updated_at"]) < parse_time(first["at"]), "a re-run does not move updated_at"
    assert first["now"] > first["at"]
    for wid in first["approvals_granted"]:
        gate = next(j for j in month.truth("workflow_jobs") if j["workflow_id"] == wid and j["type"] == "approval")
        assert gate["status"] == "success"
        assert after[wid]["status"] != "on_hold"

    second = _control(month, "changes", {"round": 2})
    assert second["rerun"]["pipeline_id"] != rerun["pipeline_id"], "one re-run per pipeline"
    assert second["canceled"] is None


def test_insights_workflow_endpoints_follow_the_schema_and_the_served_workflows(
    month: Emulator, http: requests.Session
) -> None:
    _control(month, "hold", {"count": 4})
    rerun = _control(month, "changes", {"round": 1})["rerun"]
    client = Client(month, http)
    workflows = _by_id(month, "workflow")
    runs = {}
    for project in month.truth("specific_project"):
        slug = project["slug"]
        for page in client.pages(f"/v2/insights/{slug}/workflows"):
            _valid("/insights/{project-slug}/workflows", page)
            for item in page["items"]:
                assert item["project_id"] == project["id"]
                for run_page in client.pages(f"/v2/insights/{slug}/workflows/{item['name']}"):
                    _valid("/insights/{project-slug}/workflows/{workflow-name}", run_page)
                    runs.update({r["id"]: (r, item["name"]) for r in run_page["items"]})
    assert rerun["workflow_id"] in runs, "a re-run in an old pipeline is listed by insights"
    finished = {w for w, row in workflows.items() if row["stopped_at"] is not None}
    assert set(runs) == finished, "insights list every finished workflow, none that is open"
    for wid, (run, name) in runs.items():
        served = workflows[wid]
        assert (run["status"], run["created_at"], run["stopped_at"], name) == (
            served["status"],
            served["created_at"],
            served["stopped_at"],
            served["name"],
        )
    truth = {r["id"]: r for r in month.truth("workflow_runs")}
    assert truth.keys() == runs.keys()
    assert all({k: truth[w][k] for k in run} == run for w, (run, _) in runs.items())


def test_run_list_filters_by_date_on_the_server(month: Emulator, http: requests.Session) -> None:
    client = Client(month, http)
    slug = month.truth("specific_project")[0]["slug"]
    name = client.items(f"/v2/insights/{slug}/workflows")[0]["name"]
    every = client.items(f"/v2/insights/{slug}/workflows/{name}")
    window = {"start-date": "2026-11-15T00:00:00Z", "end-date": "2026-11-17T00:00:00Z"}
    some = client.items(f"/v2/insights/{slug}/workflows/{name}", **window)
    expected = [r for r in every if window["start-date"] <= r["created_at"] <= window["end-date"]]
    assert some == expected and 0 < len(some) < len(every)
    bad = client.get(f"/v2/insights/{slug}/workflows/{name}", **{"start-date": "yesterday"})
    assert bad.status_code == 400 and "start-date" in bad.json()["message"]
