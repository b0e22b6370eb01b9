"""The connection form's round trip through a real `airflow api-server`: the provider's `conn-fields`
as the UI renders them (`/ui/connections/hook_meta`), saved, tested, edited and saved again the
way the UI does it (`/api/v2/connections`), against the emulator over real HTTP.

The emulator reads the key from `Circle-Token` (as the real service), so a connection only works
when the form kept the key name the user typed: a masked field (`***`) or the default would 401.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.airflow_stack import AirflowStack, airflow_env, free_port
from tests.conftest import API_KEY, _start_emulator

pytestmark = pytest.mark.integration

CONN_ID = "analytics_form_roundtrip"
KEY_NAME = "Circle-Token"
STARTUP_TIMEOUT = 180.0


@pytest.fixture(scope="module")
def emulator_circle_token() -> Iterator[Any]:
    emu = _start_emulator(auth_header=KEY_NAME)
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture(scope="module")
def api_server(tmp_path_factory: pytest.TempPathFactory, emulator_circle_token: Any) -> Iterator[AirflowStack]:
    """`airflow api-server` on a fresh SQLite metadata DB, with Test Connection enabled."""
    home = tmp_path_factory.mktemp("form_airflow")
    port = free_port()
    env = airflow_env(
        home=home,
        database="unused",
        port=port,
        emulator_url=emulator_circle_token.base_url,
        api_key=API_KEY,
        settings={
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        },
    )
    env.pop("AIRFLOW_CONN_ANALYTICS_API_DEFAULT")
    stack = AirflowStack(home=Path(home), env=env, port=port)
    try:
        stack.cli("db", "migrate", timeout=300)
        stack.start("api-server", "api-server", "--host", "127.0.0.1", "--port", str(port))
        stack.wait_for_api_server(STARTUP_TIMEOUT)
        yield stack
    finally:
        stack.stop(grace=15)


def ui(stack: AirflowStack, path: str) -> Any:
    import requests

    response = requests.get(f"{stack.api_url}/ui/{path}", timeout=30)
    assert response.ok, f"GET /ui/{path}: HTTP {response.status_code}: {response.text[:500]}"
    return response.json()


def form_fields(stack: AirflowStack) -> dict[str, Any]:
    """The extra fields of the `analytics_api` form, as the UI receives them."""
    metas = {m["connection_type"]: m for m in ui(stack, "connections/hook_meta")}
    assert "analytics_api" in metas, sorted(metas)
    return metas["analytics_api"]["extra_fields"]


def form_extra(fields: dict[str, Any], typed: dict[str, str]) -> str:
    """The `extra` the UI saves: each field's pre-filled value, overwritten by what the user typed."""
    values = {name: spec.get("value") for name, spec in fields.items()}
    values.update(typed)
    return json.dumps({k: v for k, v in values.items() if v is not None})


def test_the_form_prefills_every_field_in_clear(api_server: AirflowStack) -> None:
    fields = form_fields(api_server)
    assert set(fields) == {"key_name", "auth_location", "org_slugs", "api_version"}
    assert fields["key_name"]["value"] == "api_key"
    assert fields["auth_location"]["value"] == "header"
    assert fields["api_version"]["value"] == "auto"
    assert all(spec.get("value") != "***" for spec in fields.values()), fields


def test_create_test_edit_and_save_keep_the_key_name(api_server: AirflowStack, emulator_circle_token: Any) -> None:
    fields = form_fields(api_server)
    created = api_server.api(
        "POST",
        "connections",
        json={
            "connection_id": CONN_ID,
            "conn_type": "analytics_api",
            "host": emulator_circle_token.base_url,
            "password": API_KEY,
            "extra": form_extra(fields, {"key_name": KEY_NAME}),
        },
    )
    assert json.loads(created["extra"])["key_name"] == KEY_NAME

    # the edit form: what the UI loads, shown in clear except the key
    shown = api_server.api("GET", f"connections/{CONN_ID}")
    assert json.loads(shown["extra"]) == {"key_name": KEY_NAME, "auth_location": "header", "api_version": "auto"}
    assert shown["password"] == "***"
    login = emulator_circle_token.truth("self_ids")[0]["login"]
    body = {k: shown[k] for k in ("connection_id", "conn_type", "host", "password", "extra")}
    tested = api_server.api("POST", "connections/test", json=body)
    assert tested["status"] is True and login in tested["message"], tested

    # saved again from the edit form with one field changed: the key name and the key survive
    edited = {**json.loads(shown["extra"]), "org_slugs": "gh/acme"}
    api_server.api("PATCH", f"connections/{CONN_ID}", json={**body, "extra": json.dumps(edited)})
    after = api_server.api("GET", f"connections/{CONN_ID}")
    assert json.loads(after["extra"]) == edited
    retested = api_server.api("POST", "connections/test", json={**body, "extra": after["extra"]})
    assert retested["status"] is True, retested
    assert API_KEY not in json.dumps([created, shown, tested, after, retested])


def test_the_old_field_name_is_masked_and_the_hook_says_which_field_to_fix(
    api_server: AirflowStack, emulator_circle_token: Any
) -> None:
    """Why the field was renamed: Airflow shows an extra named `auth_header` as `***`; a connection
    saved with that `***` fails its test naming the field, not the API key."""
    body = {
        "connection_id": f"{CONN_ID}_old",
        "conn_type": "analytics_api",
        "host": emulator_circle_token.base_url,
        "password": API_KEY,
        "extra": json.dumps({"auth_header": KEY_NAME}),
    }
    api_server.api("POST", "connections", json=body)
    assert json.loads(api_server.api("GET", f"connections/{CONN_ID}_old")["extra"]) == {"auth_header": "***"}
    assert api_server.api("POST", "connections/test", json={**body, "password": "***"})["status"] is True

    broken = {**body, "connection_id": f"{CONN_ID}_broken", "extra": json.dumps({"auth_header": "***"})}
    api_server.api("POST", "connections", json=broken)
    result = api_server.api("POST", "connections/test", json={**broken, "password": "***"})
    assert result["status"] is False
    assert "extra `auth_header` is `***`" in result["message"] and "401" not in result["message"]
