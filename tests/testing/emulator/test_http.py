"""HTTP behaviour: error answers, keep-alive speed, concurrency, clean stop, the CLI's flags."""

from __future__ import annotations

import http.client
import threading
import time

import pytest
import requests

from analytics_provider.testing.emulator.__main__ import parse_args

from .conftest import KEY, Client, make_emulator

pytestmark = pytest.mark.integration

UNKNOWN_UUID = "00000000-0000-4000-8000-000000000000"


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/v2/context", {}, 400),
        ("/v2/context", {"owner-slug": "gh/nobody"}, 404),
        ("/v2/pipeline", {}, 400),
        ("/v2/pipeline", {"org-slug": "gh/nobody"}, 404),
        (f"/v2/pipeline/{UNKNOWN_UUID}/workflow", {}, 404),
        ("/v2/pipeline/not-a-uuid/workflow", {}, 404),
        (f"/v2/workflow/{UNKNOWN_UUID}", {}, 404),
        (f"/v2/workflow/{UNKNOWN_UUID}/job", {}, 404),
        ("/v2/project/gh/nobody/nothing", {}, 404),
        ("/v2/project/gh/nobody/nothing/job/1", {}, 404),
        ("/v2/insights/pages/gh/nobody/nothing/summary", {}, 404),
        ("/v2/insights/nobody/nothing/branches", {}, 404),
        ("/v2/nowhere", {}, 404),
        ("/v3/pipeline", {}, 404),
    ],
)
def test_errors_are_json_messages(client: Client, path: str, params: dict, status: int) -> None:
    r = client.get(path, **params)
    assert r.status_code == status
    assert isinstance(r.json()["message"], str)


def test_unknown_or_unstarted_job_numbers_are_404(client: Client) -> None:
    jobs = client.emu.truth("workflow_jobs")
    slug = jobs[0]["project_slug"]
    numbers = {j["job_number"] for j in jobs if j["project_slug"] == slug and "job_number" in j}
    assert client.get(f"/v2/project/{slug}/job/{max(numbers) + 10_000}").status_code == 404
    assert client.get(f"/v2/project/{slug}/job/0").status_code == 404
    assert client.get(f"/v2/project/{slug}/job/abc").status_code == 400
    assert client.get(f"/v2/insights/pages/{slug}/summary", **{"reporting-window": "forever"}).status_code == 400


def test_keep_alive_requests_do_not_stall(shared_emu) -> None:  # type: ignore[no-untyped-def]
    conn = http.client.HTTPConnection("127.0.0.1", shared_emu.port)
    started = time.perf_counter()
    for _ in range(100):
        conn.request("GET", "/v2/me", headers={"api_key": KEY})
        r = conn.getresponse()
        r.read()
        assert r.status == 200
    conn.close()
    assert (time.perf_counter() - started) / 100 < 0.01  # ~45 ms each without TCP_NODELAY


def test_concurrent_clients_while_the_world_changes(http: requests.Session) -> None:
    with make_emulator(days=5) as emu:
        slugs = [o["slug"] for o in emu.truth("self_collaborations")]
        errors: list[str] = []

        def walk() -> None:
            with requests.Session() as s:
                s.headers["api_key"] = KEY
                for _ in range(3):
                    for slug in slugs:
                        token = None
                        while True:
                            params = {"org-slug": slug, **({"page-token": token} if token else {})}
                            r = s.get(emu.base_url + "/v2/pipeline", params=params, timeout=30)
                            if r.status_code != 200:
                                errors.append(r.text)
                                return
                            token = r.json()["next_page_token"]
                            if token is None:
                                break

        threads = [threading.Thread(target=walk) for _ in range(4)]
        for t in threads:
            t.start()
        for _ in range(5):
            emu.state.advance(30)
            emu.state.mutate("workflow", 2)
        emu.state.finish()
        for t in threads:
            t.join(60)
        assert not errors
        assert emu.stats()["by_status"] == {"200": emu.stats()["total"]}


def test_stop_ends_kept_alive_connections(http: requests.Session) -> None:
    emu = make_emulator()
    client = Client(emu, http)
    assert client.get("/v2/me").status_code == 200
    emu.stop()
    with pytest.raises(requests.ConnectionError):
        client.get("/v2/me")


def test_cli_flags() -> None:
    config = parse_args(
        ["--port", "0", "--seed", "3", "--days", "7", "--now", "2026-11-20T12:00:00Z", "--scale", "2.5",
         "--api-key", "k", "--auth-header", "X-Key", "--latency-ms", "20", "--rate-limit", "50",
         "--faults", '{"rules": [{"kind": "status", "probability": 0.1}]}']
    )  # fmt: skip
    assert (config.seed, config.days, config.scale, config.api_key, config.auth_header) == (3, 7, 2.5, "k", "X-Key")
    assert (config.latency_ms, config.rate_limit, config.port) == (20.0, 50.0, 0)
    assert parse_args([]).port == 8089 and parse_args([]).faults == "none"
    with pytest.raises(SystemExit):
        parse_args(["--faults", "chaos"])
