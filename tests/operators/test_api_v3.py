"""The API v3 path: a connection with `api_version: v3` loads `projects` from `/v3/projects` (one
list per org, Bearer auth, `page[cursor]` paging) into the same table, and everything that fans out
of it equals the emulator's truth by value; Server mode (no v3) fails clearly or, on `auto`, stays
on v1.1; v3's rate-limit headers move the request gate."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from analytics_provider.config.loader import DEFAULT_SPEC
from analytics_provider.exceptions import AnalyticsApiError
from analytics_provider.hooks.analytics_api import AnalyticsApiHook
from analytics_provider.testing.chain import run_chain, task_context
from tests.conftest import API_KEY, _start_emulator
from tests.convergence.truth import assert_equals_truth
from tests.reliability.helpers import make_destination

pytestmark = pytest.mark.integration

V11_ONLY = ("following", "oss", "has_usable_key", "language")


def _connect(monkeypatch: pytest.MonkeyPatch, emulator: Any, **extra: Any) -> None:
    conn = {
        "conn_type": "analytics_api",
        "host": emulator.base_url,
        "password": API_KEY,
        "extra": {"key_name": "api_key", **extra},
    }
    monkeypatch.setenv("AIRFLOW_CONN_ANALYTICS_API_DEFAULT", json.dumps(conn))


def _expected_row(entity: dict[str, Any]) -> dict[str, Any]:
    """What one v3 project entity must become in `analytics.projects` (the v1.1 column names)."""
    attrs, org = entity["attributes"], entity["references"]["organization"]
    return {
        "vcs_url": attrs["vcs_url"],
        "username": org["attributes"]["name"],
        "reponame": attrs["name"],
        "vcs_type": attrs["vcs_type"],
        "default_branch": attrs["default_branch"],
        "project_id": entity["id"],
        "project_slug": attrs["slug"],
        "org_id": org["id"],
    }


def _rows(path: Path, table: str) -> list[dict[str, Any]]:
    with duckdb.connect(str(path), read_only=True) as con:
        cur = con.execute(f"SELECT * FROM analytics.{table}")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _query(path: Path) -> Any:
    def query(sql: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(path), read_only=True) as con:
            return con.execute(sql).fetchall()

    return query


def _spec_with_page_limit(tmp_path: Path, limit: str) -> Path:
    """The shipped spec with another `page[limit]` on the v3 projects list."""
    raw = yaml.safe_load(DEFAULT_SPEC.read_text())
    projects = next(r for r in raw["resources"] if r["name"] == "projects")
    projects["api_v3"]["endpoint"]["params"]["page[limit]"] = limit
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(raw))
    return spec


@pytest.fixture
def server_emulator() -> Iterator[Any]:
    emu = _start_emulator(server=True)
    try:
        yield emu
    finally:
        emu.stop()


@pytest.mark.parametrize(("kind", "auth_location"), [("duckdb", "header"), ("duckdb", "query"), ("postgres", "header")])
def test_v3_projects_and_their_fan_out_equal_the_truth(
    emulator: Any,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    kind: str,
    auth_location: str,
) -> None:
    destination = make_destination(kind, request, tmp_path)
    _connect(monkeypatch, emulator, api_version="v3", auth_location=auth_location)
    emulator.reset_stats()
    run_chain(["projects", "specific_project", "insights_branches"], task_context(), **destination.kwargs)

    routes = emulator.stats()["routes"]
    orgs = emulator.truth("self_collaborations")
    # one page per org at `page[limit]=100`; v1.1 not read; the key went as a Bearer token (the
    # emulator answers 401 to a v3 request that carries it anywhere else)
    assert routes.get("GET /v3/projects") == len(orgs), routes
    assert "GET /v1.1/projects" not in routes
    assert set(emulator.stats()["by_status"]) == {"200"}

    truth = {e["attributes"]["vcs_url"]: _expected_row(e) for e in emulator.truth("projects_v3")}
    info = "information_schema.columns WHERE table_schema = 'analytics' AND table_name = 'projects'"
    columns = [r[0] for r in destination.query(f"SELECT column_name FROM {info}")]
    rows = [
        dict(zip(columns, r, strict=True))
        for r in destination.query(f"SELECT {', '.join(columns)} FROM analytics.projects")
    ]
    loaded = {r["vcs_url"]: r for r in rows}
    assert set(loaded) == set(truth) and len(rows) == len(truth)
    for url, want in truth.items():
        assert {k: loaded[url][k] for k in want} == want, url
        assert all(loaded[url].get(c) is None for c in V11_ONLY)  # v3 does not serve them
    # the children bind the same `vcs_url`: their tables equal the truth as on v1.1
    assert_equals_truth(destination.query, "specific_project", ("id",), emulator.truth("specific_project"))
    assert_equals_truth(destination.query, "insights_branches", ("project_id",), emulator.truth("insights_branches"))


def test_switching_a_connection_to_v3_keeps_one_row_per_project(
    emulator: Any, duckdb_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _connect(monkeypatch, emulator)  # auto on 127.0.0.1: v1.1
    run_chain(["projects"], task_context())
    before = {r["vcs_url"]: r for r in _rows(duckdb_path, "projects")}
    assert before and all(r["following"] is True for r in before.values())

    _connect(monkeypatch, emulator, api_version="v3")
    run_chain(["projects"], task_context())
    after = {r["vcs_url"]: r for r in _rows(duckdb_path, "projects")}
    assert set(after) == set(before) and len(_rows(duckdb_path, "projects")) == len(before)
    for url, row in after.items():
        for column in ("username", "reponame", "vcs_type", "default_branch"):
            assert row[column] == before[url][column], (url, column)


def test_v3_pages_with_page_cursor(
    emulator: Any, duckdb_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    spec = _spec_with_page_limit(tmp_path, "2")
    _connect(monkeypatch, emulator, api_version="v3")
    emulator.reset_stats()
    run_chain(["projects"], task_context(), spec_path=str(spec))

    per_org: dict[str, int] = {}
    for entity in emulator.truth("projects_v3"):
        org = entity["references"]["organization"]["id"]
        per_org[org] = per_org.get(org, 0) + 1
    pages = sum(-(-n // 2) for n in per_org.values())
    assert emulator.stats()["routes"]["GET /v3/projects"] == pages > len(per_org)
    assert {r["vcs_url"] for r in _rows(duckdb_path, "projects")} == {
        e["attributes"]["vcs_url"] for e in emulator.truth("projects_v3")
    }


def test_a_page_limit_out_of_the_operations_bounds_fails_naming_it(
    emulator: Any, duckdb_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    spec = _spec_with_page_limit(tmp_path, "500")
    _connect(monkeypatch, emulator, api_version="v3")
    with pytest.raises(AnalyticsApiError, match=r"HTTP 400.*page\[limit\]"):
        run_chain(["projects"], task_context(), spec_path=str(spec))


def test_v3_on_a_server_without_it_fails_saying_to_use_v2(
    server_emulator: Any, duckdb_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _connect(monkeypatch, server_emulator, api_version="v3")
    with pytest.raises(AnalyticsApiError) as err:
        run_chain(["projects"], task_context())
    assert "no API v3" in str(err.value) and "`api_version`" in str(err.value) and "`v2`" in str(err.value)
    assert API_KEY not in str(err.value)


def test_auto_on_a_server_host_reads_v1_1(
    server_emulator: Any, duckdb_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _connect(monkeypatch, server_emulator)  # `auto`: not circleci.com, so v2/v1.1
    server_emulator.reset_stats()
    run_chain(["projects"], task_context())
    assert "GET /v3/projects" not in server_emulator.stats()["routes"]
    loaded = {r["vcs_url"]: r for r in _rows(duckdb_path, "projects")}
    truth = {r["vcs_url"]: r for r in server_emulator.truth("projects")}
    assert set(loaded) == set(truth)
    assert all(
        loaded[u]["reponame"] == t["reponame"] and loaded[u]["following"] == t["following"] for u, t in truth.items()
    )


def test_v3_rate_limit_headers_widen_the_request_gate(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    emulator.set_rate_limit(500)
    _connect(monkeypatch, emulator, api_version="v3")
    session = AnalyticsApiHook().get_conn()
    url = f"{emulator.base_url}/v3/projects"
    org = emulator.truth("self_collaborations")[0]["id"]
    gate = session.get_adapter(url).gate
    assert gate.limit == gate.floor
    headers: Any = None
    deadline = time.monotonic() + 5
    while gate.limit == gate.floor and time.monotonic() < deadline:
        response = session.get(url, params={"filter[org_id]": org}, headers={"Accept": "application/json"})
        assert response.status_code == 200, response.text
        headers = response.headers
        time.sleep(0.05)  # a light reader: the budget stays mostly unused
    assert "RateLimit-Remaining" in headers and "X-RateLimit-Remaining" not in headers
    assert gate.limit > gate.floor  # the budget v3 reported unused let more requests in flight


def test_three_rounds_of_changes_converge_on_api_v3(
    emulator: Any, duckdb_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 16's convergence with the project fan-out starting from v3's projects: after each round
    of API changes every table equals the truth by value, as on v1.1."""
    from tests.convergence.test_three_rounds import converge

    _connect(monkeypatch, emulator, api_version="v3")
    rounds = converge(emulator, _query(duckdb_path))
    assert all(r["out"]["projects"][0]["parent_keys"] == len(emulator.truth("self_collaborations")) for r in rounds)
    assert "GET /v1.1/projects" not in emulator.stats()["routes"]
    truth = {e["attributes"]["vcs_url"]: _expected_row(e) for e in emulator.truth("projects_v3")}
    loaded = {r["vcs_url"]: r for r in _rows(duckdb_path, "projects")}
    assert {u: {k: loaded[u][k] for k in want} for u, want in truth.items()} == truth


def test_flaky_tests_fetch_their_projects_through_v3(
    emulator: Any, duckdb_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`flaky_tests` reads its parent `projects` itself; on v3 that parent reads its orgs in turn."""
    from tests.convergence.test_test_results import assert_flaky_tests_equal_truth

    _connect(monkeypatch, emulator, api_version="v3")
    emulator.reset_stats()
    (summary,) = run_chain(["flaky_tests"], task_context())["flaky_tests"]
    orgs = len(emulator.truth("self_collaborations"))
    routes = emulator.stats()["routes"]
    assert routes["GET /v2/me/collaborations"] == 1 and routes["GET /v3/projects"] == orgs
    assert summary["parent_keys"] == len(emulator.truth("projects_v3"))
    assert summary["requests"] == emulator.stats()["total"]  # the org and project reads are counted
    assert assert_flaky_tests_equal_truth(emulator, _query(duckdb_path)) > 0


def test_a_v3_shape_without_the_key_fails_naming_the_path_and_loads_nothing(
    emulator: Any, duckdb_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """If the API's v3 attributes differ from the spec's `fields` (the key is not where they say),
    the task fails saying so instead of merging rows without their key."""
    raw = yaml.safe_load(DEFAULT_SPEC.read_text())
    projects = next(r for r in raw["resources"] if r["name"] == "projects")
    projects["api_v3"]["fields"]["vcs_url"] = "attributes.repo_url"
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(raw))
    _connect(monkeypatch, emulator, api_version="v3")
    with pytest.raises(AnalyticsApiError) as err:
        run_chain(["projects"], task_context(), spec_path=str(spec))
    message = str(err.value)
    assert "`attributes.repo_url`" in message and "`api_version`" in message and "`v2`" in message
    assert (
        not duckdb_path.exists()
        or not duckdb.connect(str(duckdb_path), read_only=True)
        .execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'projects'")
        .fetchone()[0]
    )
