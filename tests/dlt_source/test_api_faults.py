"""How a load behaves when the API misbehaves: the emulator's faults over real HTTP, a real DuckDB file."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from analytics_provider.exceptions import AnalyticsApiError
from analytics_provider.testing.chain import run_chain, task_context
from tests.conftest import API_KEY, EMULATOR_NOW

pytestmark = pytest.mark.integration
WINDOW = task_context(EMULATOR_NOW - timedelta(days=1), EMULATOR_NOW)


def _faults(emulator: Any, *rules: dict[str, Any]) -> None:
    emulator.set_faults({"seed": 1, "rules": list(rules)})


def test_429_with_retry_after_is_waited_out(emulator: Any, api_connection: str, duckdb_path: Path) -> None:
    _faults(emulator, {"kind": "rate_limit", "count": 2, "path": "^/v2/me/collaborations", "retry_after": 1})
    out = run_chain(["self_collaborations"], WINDOW)
    assert out["self_collaborations"][0]["rows"] == {"self_collaborations": 2}
    stats = emulator.stats()
    assert stats["routes"]["GET /v2/me/collaborations"] == 3
    assert stats["by_status"].get("429") == 2 or stats["by_status"].get(429) == 2


def test_429_beyond_the_retry_budget_fails_naming_resource_path_and_status(
    emulator: Any, api_connection: str, duckdb_path: Path, fast_spec: str
) -> None:
    _faults(emulator, {"kind": "status", "status": 429, "count": 50, "path": "^/v2/me/collaborations"})
    with pytest.raises(AnalyticsApiError) as caught:
        run_chain(["self_collaborations"], WINDOW, spec_path=fast_spec)
    message = str(caught.value)
    assert "`self_collaborations`" in message and "HTTP 429" in message and "/v2/me/collaborations" in message
    assert API_KEY not in message
    assert emulator.stats()["routes"]["GET /v2/me/collaborations"] == 4, "3 retries = 4 attempts"


def test_transient_5xx_are_retried(emulator: Any, api_connection: str, duckdb_path: Path, fast_spec: str) -> None:
    _faults(emulator, {"kind": "status", "status": 503, "count": 2, "path": "^/v2/me$"})
    out = run_chain(["self_ids"], WINDOW, spec_path=fast_spec)
    assert out["self_ids"][0]["rows"] == {"self_ids": 1}


def test_a_wrong_key_fails_at_once_naming_the_connection(
    emulator: Any, duckdb_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "wrong-key-1234567890"
    conn = {"conn_type": "analytics_api", "host": emulator.base_url, "password": wrong}
    monkeypatch.setenv("AIRFLOW_CONN_ANALYTICS_API_DEFAULT", json.dumps(conn))
    with pytest.raises(AirflowFailException) as caught:
        run_chain(["self_ids"], WINDOW)
    message = str(caught.value)
    assert "`analytics_api_default`" in message and "401" in message and wrong not in message
    assert emulator.stats()["routes"]["GET /v2/me"] == 1, "a 401 is not retried"


def test_a_repeated_page_token_fails_instead_of_looping(emulator: Any, api_connection: str, duckdb_path: Path) -> None:
    _faults(emulator, {"kind": "repeat_token", "count": 100, "path": "^/v2/pipeline$"})
    with pytest.raises(AnalyticsApiError) as caught:
        run_chain(["self_collaborations", "pipelines"], task_context(EMULATOR_NOW - timedelta(days=10), EMULATOR_NOW))
    assert "page token it already returned" in str(caught.value)
    assert emulator.stats()["routes"]["GET /v2/pipeline"] < 10


def test_a_truncated_body_is_retried(emulator: Any, api_connection: str, duckdb_path: Path, fast_spec: str) -> None:
    _faults(emulator, {"kind": "truncate", "count": 1, "path": "^/v2/me/collaborations"})
    out = run_chain(["self_collaborations"], WINDOW, spec_path=fast_spec)
    assert out["self_collaborations"][0]["rows"] == {"self_collaborations": 2}
    assert emulator.stats()["routes"]["GET /v2/me/collaborations"] == 2


def test_a_body_that_stays_broken_fails_clearly(
    emulator: Any, api_connection: str, duckdb_path: Path, fast_spec: str
) -> None:
    _faults(emulator, {"kind": "truncate", "count": 50, "path": "^/v2/me/collaborations"})
    with pytest.raises(AnalyticsApiError) as caught:
        run_chain(["self_collaborations"], WINDOW, spec_path=fast_spec)
    message = str(caught.value)
    assert "not valid JSON" in message and "/v2/me/collaborations" in message and "HTTP 200" in message
    assert "starting: '" in message and API_KEY not in message


def test_404_on_a_child_list_is_an_empty_result(emulator: Any, api_connection: str, duckdb_path: Path) -> None:
    _faults(emulator, {"kind": "child_404", "probability": 1.0, "times": 1000, "path": "^/v2/workflow/.*/job"})
    out = run_chain(["self_collaborations", "pipelines", "pipeline_workflows", "workflow_jobs"], WINDOW)
    summaries = out["workflow_jobs"]
    assert sum(s["not_found_as_empty"] for s in summaries) == sum(s["parent_keys"] for s in summaries) > 0
    assert all(not s["rows"] for s in summaries)


def test_a_missing_token_key_ends_paging(emulator: Any, api_connection: str, duckdb_path: Path) -> None:
    _faults(emulator, {"kind": "drop_token", "count": 100, "path": "^/v2/pipeline$"})
    out = run_chain(["self_collaborations", "pipelines"], task_context(EMULATOR_NOW - timedelta(days=10), EMULATOR_NOW))
    orgs = len(emulator.truth("self_collaborations"))
    assert emulator.stats()["routes"]["GET /v2/pipeline"] == orgs, "one page per org, then paging ends"
    assert 0 < out["pipelines"][0]["rows"]["pipelines"] <= 20 * orgs
