"""The hook against the emulator over real HTTP: connection settings, test_connection, key-free errors."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from analytics_provider.exceptions import AnalyticsApiError
from analytics_provider.hooks.analytics_api import AnalyticsApiHook
from tests.conftest import API_KEY

pytestmark = pytest.mark.integration


def _set_conn(monkeypatch: pytest.MonkeyPatch, conn_id: str, host: str, key: str, **extra: Any) -> None:
    payload = {"conn_type": "analytics_api", "host": host, "password": key, "extra": extra}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(payload))


def test_test_connection_succeeds_against_the_emulator(emulator: Any, api_connection: str) -> None:
    ok, message = AnalyticsApiHook(api_connection).test_connection()
    login = emulator.truth("self_ids")[0]["login"]
    assert ok, message
    assert login in message and emulator.base_url in message


def test_wrong_key_fails_naming_the_connection_never_the_key(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = "wrong-key-0f9a8e7d6c"
    _set_conn(monkeypatch, "analytics_bad", emulator.base_url, wrong)
    ok, message = AnalyticsApiHook("analytics_bad").test_connection()
    assert not ok
    assert "`analytics_bad`" in message and "401" in message
    assert wrong not in message


def test_key_in_the_query_string_is_redacted(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = "query-key-77aa66bb55"
    _set_conn(monkeypatch, "analytics_q", emulator.base_url, wrong, auth_location="query")
    ok, message = AnalyticsApiHook("analytics_q").test_connection()
    assert not ok and "401" in message
    assert wrong not in message and "***" in message


def test_key_in_query_string_is_accepted(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _set_conn(monkeypatch, "analytics_q_ok", emulator.base_url, API_KEY, auth_location="query")
    ok, message = AnalyticsApiHook("analytics_q_ok").test_connection()
    assert ok, message


def test_unreachable_host_is_a_clear_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    _set_conn(monkeypatch, "analytics_down", "http://127.0.0.1:9", "some-key-123456")
    ok, message = AnalyticsApiHook("analytics_down").test_connection()
    assert not ok and "cannot reach http://127.0.0.1:9" in message


def test_settings_from_the_connection_form_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    _set_conn(
        monkeypatch,
        "analytics_form",
        "https://circleci.com/api/",
        "k-123456",
        key_name="Circle-Token",
        org_slugs="gh/acme, circleci/1234",
    )
    settings = AnalyticsApiHook("analytics_form").get_settings()
    assert settings.base_url == "https://circleci.com/api"
    assert settings.auth_name == "Circle-Token" and settings.auth_location == "header"
    assert settings.org_slugs == ("gh/acme", "circleci/1234")
    assert "k-123456" not in repr(settings)


def test_older_auth_header_extra_is_still_read_and_key_name_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    _set_conn(monkeypatch, "analytics_old", "https://circleci.com/api", "k-123456", auth_header="Circle-Token")
    assert AnalyticsApiHook("analytics_old").get_settings().auth_name == "Circle-Token"
    _set_conn(monkeypatch, "analytics_both", "https://x.test", "k-123456", auth_header="Old-Name", key_name="New-Name")
    assert AnalyticsApiHook("analytics_both").get_settings().auth_name == "New-Name"


@pytest.mark.parametrize("field", ["auth_header", "key_name"])
def test_a_masked_key_name_saved_by_a_form_is_refused_naming_the_field(
    emulator: Any, monkeypatch: pytest.MonkeyPatch, field: str
) -> None:
    """What the old form saved (`auth_header: "***"`) fails the connection test with the field to fix,
    not with a 401 that sends the user to the API key."""
    _set_conn(monkeypatch, "analytics_masked", emulator.base_url, API_KEY, **{field: "***"})
    ok, message = AnalyticsApiHook("analytics_masked").test_connection()
    assert not ok
    assert f"extra `{field}` is `***`" in message and "API key name" in message and "401" not in message
    assert API_KEY not in message


def test_provider_is_registered_with_its_connection_form() -> None:
    """`airflow providers list` (the real CLI, in a subprocess) shows the provider and its connection type."""
    airflow = [sys.executable, "-m", "airflow"]
    listed = subprocess.run([*airflow, "providers", "list", "-o", "json"], capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert "airflow-provider-analytics" in {p["package_name"] for p in json.loads(listed.stdout)}
    from airflow.providers_manager import ProvidersManager
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    assert "analytics_api" in ProvidersManagerTaskRuntime().hooks, "tasks resolve the connection type to the hook"
    manager = ProvidersManager()
    widgets = manager.connection_form_widgets
    for field in ("key_name", "auth_location", "org_slugs"):
        assert f"extra__analytics_api__{field}" in widgets
    assert manager.field_behaviours["analytics_api"]["relabeling"]["password"] == "API key"


@pytest.mark.parametrize(
    ("host", "extra", "version"),
    [
        ("https://circleci.com/api", {}, "v3"),  # auto on CircleCI's cloud
        ("https://circleci.com/api", {"api_version": "v2"}, "v2"),
        ("https://circleci.example.internal/api", {}, "v2"),  # auto on a Server host
        ("https://circleci.example.internal/api", {"api_version": "V3"}, "v3"),
        ("http://127.0.0.1:8089", {"api_version": "auto"}, "v2"),
    ],
)
def test_api_version_from_the_connection(
    monkeypatch: pytest.MonkeyPatch, host: str, extra: dict[str, str], version: str
) -> None:
    _set_conn(monkeypatch, "analytics_ver", host, "k-123456", **extra)
    assert AnalyticsApiHook("analytics_ver").get_settings().api_version == version


def test_an_unknown_api_version_is_refused_naming_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    _set_conn(monkeypatch, "analytics_ver", "https://circleci.com/api", "k-123456", api_version="v4")
    with pytest.raises(AnalyticsApiError, match=r"extra `api_version` must be one of auto, v3, v2, got `v4`"):
        AnalyticsApiHook("analytics_ver").get_settings()


@pytest.mark.parametrize("auth_location", ["header", "query"])
def test_v3_requests_carry_the_key_as_bearer_and_nowhere_else(
    emulator: Any, monkeypatch: pytest.MonkeyPatch, auth_location: str
) -> None:
    _set_conn(monkeypatch, "analytics_v3", emulator.base_url, API_KEY, api_version="v3", auth_location=auth_location)
    session = AnalyticsApiHook("analytics_v3").get_conn()
    v3 = session.get(f"{emulator.base_url}/v3/projects", params={"filter[org_id]": "x"}).request
    v2 = session.get(f"{emulator.base_url}/v2/me").request
    assert v3.headers["Authorization"] == f"Bearer {API_KEY}"
    assert "api_key" not in v3.headers and API_KEY not in (v3.url or "")
    assert "Authorization" not in v2.headers
    assert (v2.headers.get("api_key") == API_KEY) if auth_location == "header" else (f"api_key={API_KEY}" in v2.url)
    assert API_KEY not in repr(session.auth)


def test_the_spec_client_block_gives_the_defaults_the_connection_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    from analytics_provider.config.model import AuthSpec, ClientSpec

    client = ClientSpec(
        base_url="https://ci.example.internal/api", auth=AuthSpec(name="Circle-Token", location="query")
    )
    _set_conn(monkeypatch, "analytics_bare", "", "k-123456")
    bare = AnalyticsApiHook("analytics_bare", client=client).get_settings()
    assert (bare.base_url, bare.auth_name, bare.auth_location) == (
        "https://ci.example.internal/api",
        "Circle-Token",
        "query",
    )
    assert AnalyticsApiHook("analytics_bare").get_settings().base_url == "https://circleci.com/api"  # the shipped spec

    _set_conn(
        monkeypatch, "analytics_set", "http://127.0.0.1:8089", "k-123456", key_name="api_key", auth_location="header"
    )
    chosen = AnalyticsApiHook("analytics_set", client=client).get_settings()
    assert (chosen.base_url, chosen.auth_name, chosen.auth_location) == ("http://127.0.0.1:8089", "api_key", "header")
