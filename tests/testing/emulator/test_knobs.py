"""Latency, rate limit, faults and stats, observed over HTTP."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from analytics_provider.testing.emulator import Emulator

from .conftest import KEY, Client, make_emulator

pytestmark = pytest.mark.integration


def _first_workflow(emu: Emulator) -> dict[str, Any]:
    return emu.truth("workflow")[-1]


def _big_org(emu: Emulator) -> str:
    slugs = [o["slug"] for o in emu.truth("self_collaborations")]
    pipelines = emu.truth("pipelines")
    return max(slugs, key=lambda s: sum(p["project_slug"].startswith(s + "/") for p in pipelines))


def test_latency_is_added_and_settable_at_run_time(fresh: Client) -> None:
    def timed() -> float:
        started = time.perf_counter()
        for _ in range(5):
            fresh.json("/v2/me")
        return (time.perf_counter() - started) / 5

    assert timed() < 0.04
    r = requests.post(fresh.emu.base_url + "/_emulator/settings", json={"latency_ms": 60}, timeout=10)
    assert r.json()["latency_ms"] == 60
    assert timed() >= 0.06
    fresh.emu.set_latency(0)
    assert timed() < 0.04


def test_rate_limit_answers_429_with_honest_retry_after(http: requests.Session) -> None:
    with make_emulator(rate_limit=4) as emu:
        client = Client(emu, http)
        answers = [client.get("/v2/me") for _ in range(12)]
        limited = [r for r in answers if r.status_code == 429]
        assert limited and answers[0].status_code == 200
        r = limited[-1]
        wait = int(r.headers["Retry-After"])
        assert wait >= 1
        for name in ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "X-RateLimit-Limit"):
            assert name in r.headers
        time.sleep(wait)
        assert client.get("/v2/me").status_code == 200
        stats = emu.stats()
        assert stats["by_status"]["429"] == len(limited)
        # per second since the reset: [served, refused]; the 12 came in the first second, one more after the wait
        timeline = stats["timeline"]
        assert timeline[0] == [12 - len(limited), len(limited)]
        assert sum(ok for ok, _ in timeline) == 13 - len(limited) and len(timeline) == 1 + wait


def test_a_rate_limit_without_counts_says_only_retry_after(http: requests.Session) -> None:
    with make_emulator(rate_limit=4) as emu:
        r = requests.post(emu.base_url + "/_emulator/settings", json={"rate_limit_counts": False}, timeout=10)
        assert r.json()["rate_limit"] == 4 and r.json()["rate_limit_counts"] is False
        answers = [Client(emu, http).get("/v2/me") for _ in range(12)]
        limited = [a for a in answers if a.status_code == 429]
        assert limited and answers[0].status_code == 200
        assert all(int(a.headers["Retry-After"]) >= 1 for a in limited)
        assert not [name for a in answers for name in a.headers if "ratelimit" in name.lower()]


def test_status_fault_by_count(fresh: Client) -> None:
    fresh.emu.set_faults({"rules": [{"kind": "status", "status": [500, 502], "count": 2, "path": "^/v2/me$"}]})
    codes = [fresh.get("/v2/me").status_code for _ in range(3)]
    assert codes[:2] in ([500, 502], [502, 500], [500, 500], [502, 502]) and codes[2] == 200
    assert fresh.get("/v2/me/collaborations").status_code == 200
    assert fresh.emu.stats()["faults"] == {"status": 2}


def test_rate_limit_burst_then_success(fresh: Client) -> None:
    fresh.emu.set_faults({"rules": [{"kind": "rate_limit", "probability": 1, "times": 3, "retry_after": 2}]})
    answers = [fresh.get("/v2/me") for _ in range(4)]
    assert [r.status_code for r in answers] == [429, 429, 429, 200]
    assert answers[0].headers["Retry-After"] == "2"
    assert fresh.get("/v2/me/collaborations").status_code == 429  # another URL: its own burst


def test_child_list_404(fresh: Client) -> None:
    fresh.emu.set_faults({"rules": [{"kind": "child_404", "probability": 1}]})
    wf = _first_workflow(fresh.emu)
    assert fresh.get(f"/v2/workflow/{wf['id']}/job").status_code == 404
    assert fresh.get(f"/v2/pipeline/{wf['pipeline_id']}/workflow").status_code == 404
    assert fresh.get(f"/v2/workflow/{wf['id']}").status_code == 200


def test_truncated_body_then_whole_on_retry(fresh: Client) -> None:
    fresh.emu.set_faults({"rules": [{"kind": "truncate", "probability": 1}]})
    broken = fresh.get("/v2/me/collaborations")
    assert broken.status_code == 200
    with pytest.raises(ValueError):
        broken.json()
    assert fresh.get("/v2/me/collaborations").json() == fresh.emu.truth("self_collaborations")


def test_repeated_and_missing_page_tokens(fresh: Client) -> None:
    slug = _big_org(fresh.emu)
    first = fresh.json("/v2/pipeline", **{"org-slug": slug})
    token = first["next_page_token"]
    fresh.emu.set_faults({"rules": [{"kind": "repeat_token", "probability": 1}]})
    second = fresh.json("/v2/pipeline", **{"org-slug": slug, "page-token": token})
    assert second["next_page_token"] == token
    fresh.emu.set_faults({"rules": [{"kind": "drop_token", "probability": 1}]})
    assert "next_page_token" not in fresh.json("/v2/pipeline", **{"org-slug": slug})
    fresh.emu.set_faults({"rules": [{"kind": "drop_token", "probability": 1, "when": "last"}]})
    assert fresh.json("/v2/pipeline", **{"org-slug": slug})["next_page_token"] == token
    assert "next_page_token" not in fresh.json(f"/v2/workflow/{_first_workflow(fresh.emu)['id']}/job")


def test_connection_reset_and_slow_response(fresh: Client) -> None:
    fresh.emu.set_faults({"rules": [{"kind": "reset", "count": 1}, {"kind": "slow", "delay_ms": 250, "count": 1}]})
    with pytest.raises(requests.ConnectionError):
        fresh.get("/v2/me")
    started = time.perf_counter()
    assert fresh.get("/v2/me").status_code == 200
    assert time.perf_counter() - started >= 0.25


def _faulted_urls(seed: int) -> list[str]:
    with make_emulator() as emu, requests.Session() as s:
        emu.set_faults({"seed": seed, "rules": [{"kind": "status", "probability": 0.3}]})
        urls = [f"/v2/workflow/{w['id']}" for w in emu.truth("workflow")[:60]]
        return [u for u in urls if s.get(emu.base_url + u, headers={"api_key": KEY}, timeout=10).status_code == 503]


def test_faults_are_deterministic_under_a_seed() -> None:
    first = _faulted_urls(1)
    assert 5 < len(first) < 40
    assert _faulted_urls(1) == first
    assert _faulted_urls(2) != first


def _retrying_json(client: Client, path: str, **params: Any) -> Any:
    """What a well-retrying client does: retry 429/5xx/404 child lists/resets/broken JSON."""
    for _ in range(4):
        try:
            r = client.get(path, **params)
            if r.status_code in (200, 404):
                return r.json() if r.status_code == 200 else None
        except (requests.ConnectionError, ValueError):
            pass
    pytest.fail(f"{path} failed four times in a row")


def test_hostile_profile_is_survivable_by_a_retrying_client(http: requests.Session) -> None:
    with make_emulator(days=10, faults="hostile") as emu:
        client = Client(emu, http)
        slug = _big_org(emu)
        items: list[dict[str, Any]] = []
        token = None
        while True:
            page = _retrying_json(
                client, "/v2/pipeline", **{"org-slug": slug, **({"page-token": token} if token else {})}
            )
            items += page["items"]
            token = page.get("next_page_token")
            if not token:
                break
        truth = [p for p in emu.truth("pipelines") if p["project_slug"].startswith(slug + "/")]
        assert [p["id"] for p in items] == [p["id"] for p in truth]
        workflows = [
            w
            for p in items
            for w in (_retrying_json(client, f"/v2/pipeline/{p['id']}/workflow") or {"items": []})["items"]
        ]
        assert [w["id"] for w in workflows] == [
            w["id"] for w in emu.truth("workflow") if w["project_slug"].startswith(slug + "/")
        ]
        assert len(emu.stats()["faults"]) >= 3


def test_stats_count_per_route_template(fresh: Client) -> None:
    wf = _first_workflow(fresh.emu)
    fresh.json("/v2/me")
    fresh.json(f"/v2/workflow/{wf['id']}")
    fresh.json(f"/v2/workflow/{wf['id']}/job")
    fresh.json(f"/v2/workflow/{wf['id']}/job")
    fresh.get("/v2/no/such/route")
    stats = requests.get(fresh.emu.base_url + "/_emulator/stats", timeout=10).json()
    assert stats["routes"] == {
        "GET /v2/me": 1,
        "GET /v2/workflow/{workflow_id}": 1,
        "GET /v2/workflow/{workflow_id}/job": 2,
        "GET <unmatched>": 1,
    }
    assert stats["total"] == 5 and stats["by_status"] == {"200": 4, "404": 1}
    requests.post(fresh.emu.base_url + "/_emulator/stats/reset", timeout=10)
    assert fresh.emu.stats()["total"] == 0


def test_faults_set_over_http(fresh: Client) -> None:
    url = fresh.emu.base_url + "/_emulator/faults"
    assert requests.post(url, json={"profile": "hostile", "seed": 3}, timeout=10).json()["profile"] == "hostile"
    assert requests.get(url, timeout=10).json()["seed"] == 3
    assert requests.post(url, json={}, timeout=10).json()["rules"] == []
    bad = requests.post(url, json={"rules": [{"kind": "explode"}]}, timeout=10)
    assert bad.status_code == 400 and "explode" in bad.json()["message"]
