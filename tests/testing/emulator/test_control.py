"""The control API and its in-process twins: truth, mutate, advance, finish; the subprocess helper."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from analytics_provider.testing.emulator import EmulatorConfig, spawn_emulator

from .conftest import KEY, NOW, Client

pytestmark = pytest.mark.integration


def _post(client: Client, name: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(f"{client.emu.base_url}/_emulator/{name}", json=body, timeout=30)


def test_truth_over_http_matches_in_process(client: Client) -> None:
    for resource in ("pipelines", "workflow_jobs", "jobs", "context", "insights_metrics"):
        body = requests.get(f"{client.emu.base_url}/_emulator/truth/{resource}", timeout=30).json()
        assert body["resource"] == resource and body["count"] == len(body["rows"])
        assert body["rows"] == client.emu.truth(resource)
    assert requests.get(f"{client.emu.base_url}/_emulator/truth/nope", timeout=10).status_code == 404


def test_truth_since_until_filters_on_the_pipeline(client: Client) -> None:
    since, until = "2026-11-19T00:00:00Z", "2026-11-20T00:00:00Z"
    pipelines = client.emu.truth("pipelines", since=since, until=until)
    assert pipelines and all(since <= p["created_at"] < until for p in pipelines)
    ids = {p["id"] for p in pipelines}
    workflows = client.emu.truth("workflow", since=since, until=until)
    assert workflows and {w["pipeline_id"] for w in workflows} <= ids
    wf_ids = {w["id"] for w in workflows}
    assert {j["workflow_id"] for j in client.emu.truth("workflow_jobs", since=since, until=until)} == wf_ids


def test_mutate_changes_what_is_served(fresh: Client) -> None:
    emu = fresh.emu
    changed = _post(fresh, "mutate", {"resource": "pipelines", "count": 2}).json()
    assert changed["count"] == 2
    slug = emu.state.pipeline(changed["ids"][0]).project.org.slug
    served = {p["id"]: p for p in fresh.json("/v2/pipeline", **{"org-slug": slug})["items"]}
    assert served[changed["ids"][0]]["state"] == "errored"

    before = {w["id"]: w for w in emu.truth("workflow")}
    wf_ids = emu.state.mutate("workflow", 3)["ids"]
    for wf_id in wf_ids:
        now = fresh.json(f"/v2/workflow/{wf_id}")
        assert now["name"] == before[wf_id]["name"] + "-v2" and now["status"] != before[wf_id]["status"]

    jobs = emu.state.mutate("jobs", 2)["jobs"]
    for job in jobs:
        detail = fresh.json(f"/v2/project/{job['project_slug']}/job/{job['job_number']}")
        listed = {j["id"]: j for j in fresh.items(f"/v2/workflow/{job['workflow_id']}/job")}[job["id"]]
        assert detail["status"] == listed["status"]
    assert emu.state.mutate("jobs", 2)["ids"] != [j["id"] for j in jobs]  # next ones, not the same
    assert _post(fresh, "mutate", {"resource": "me", "count": 1}).status_code == 400


def test_advance_reveals_new_work_and_lets_running_work_end(fresh: Client) -> None:
    emu = fresh.emu
    open_before = [w for w in emu.truth("workflow") if w["stopped_at"] is None]
    assert open_before
    result = _post(fresh, "advance", {"minutes": 24 * 60}).json()
    assert result["new_pipelines"] > 0 and result["now"] == "2026-11-21T12:00:00.000Z"
    new_ids = set(result["pipeline_ids"])
    slugs = {o["slug"] for o in emu.truth("self_collaborations")}
    served = {p["id"] for s in slugs for p in fresh.items("/v2/pipeline", **{"org-slug": s})}
    assert new_ids <= served
    for wf in open_before:
        assert fresh.json(f"/v2/workflow/{wf['id']}")["stopped_at"] is not None
    assert _post(fresh, "advance", {"minutes": -5}).status_code == 400


def test_finish_closes_everything_and_reruns_a_failed_workflow(fresh: Client) -> None:
    emu = fresh.emu
    jobs_before = {j["id"]: j for j in emu.truth("workflow_jobs")}
    waiting = [j for j in jobs_before.values() if j["type"] == "build" and "job_number" not in j]
    pending_approvals = [j for j in jobs_before.values() if j["status"] == "on_hold"]
    assert waiting and pending_approvals
    result = _post(fresh, "finish", {}).json()
    assert result["workflows_finished"] and set(result["approvals_approved"]) >= {j["id"] for j in pending_approvals}
    assert all(w["stopped_at"] is not None for w in emu.truth("workflow"))
    jobs_after = {j["id"]: j for j in emu.truth("workflow_jobs")}
    assert all(jobs_after[j["id"]]["status"] == "success" for j in pending_approvals)
    started = [jobs_after[j["id"]] for j in waiting if "job_number" in jobs_after[j["id"]]]
    assert started
    for job in started:
        detail = fresh.json(f"/v2/project/{job['project_slug']}/job/{job['job_number']}")
        assert detail["stopped_at"] is not None and detail["status"] == job["status"]
    rerun = result["rerun"]
    listed = fresh.items(f"/v2/pipeline/{rerun['pipeline_id']}/workflow")
    assert listed[0]["id"] == rerun["workflow_id"] and rerun["rerun_of"] in [w["id"] for w in listed]
    assert listed[0]["created_at"] == NOW
    assert fresh.json(f"/v2/workflow/{rerun['workflow_id']}")["status"] == "success"
    project = listed[0]["project_slug"]
    for number in rerun["job_numbers"]:
        assert fresh.json(f"/v2/project/{project}/job/{number}")["latest_workflow"]["id"] == rerun["workflow_id"]
    assert _post(fresh, "finish", {}).json()["workflows_finished"] == []


def test_spawned_subprocess_serves_and_stops_cleanly() -> None:
    config = EmulatorConfig(port=0, seed=12, days=2, now=NOW, api_key=KEY, latency_ms=0)
    proc = spawn_emulator(config, timeout=30)
    try:
        r = requests.get(proc.base_url + "/v2/me", headers={"Circle-Token": KEY}, timeout=10)
        assert r.status_code == 200
        assert proc.stats()["routes"] == {"GET /v2/me": 1}
        assert proc.truth("self_ids")[0]["id"] == r.json()["id"]
        assert proc.advance(10)["now"] == "2026-11-20T12:10:00.000Z"
    finally:
        code = proc.stop()
    assert code == 0
