"""Shared fixtures: an isolated AIRFLOW_HOME, the emulator over real HTTP, connections, destinations."""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

# Airflow and dlt read these at import time: set them before anything imports either.
_HOME = Path(tempfile.mkdtemp(prefix="analytics_test_airflow_"))
os.environ["AIRFLOW_HOME"] = str(_HOME)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(Path(__file__).resolve().parents[1] / "dags"))
os.environ.setdefault("PROVIDERS__ENABLE_AIRFLOW_SECRETS", "false")
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

import pytest  # noqa: E402

API_KEY = "test-key-5b8f0e1c"
EMULATOR_NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
PG_DSN = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}


def _start_emulator(**overrides: object):  # type: ignore[no-untyped-def]
    from analytics_provider.testing.emulator import Emulator, EmulatorConfig

    config = EmulatorConfig(port=0, seed=7, days=30, now=EMULATOR_NOW, api_key=API_KEY, **overrides)
    emulator = Emulator(config)
    emulator.start()
    return emulator


@pytest.fixture
def emulator() -> Iterator[object]:
    """A fresh emulator per test (tests mutate it), served over real HTTP on a free port."""
    emu = _start_emulator()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def api_connection(emulator: object, monkeypatch: pytest.MonkeyPatch) -> str:
    """The default analytics connection pointing at the emulator (resolved from the environment)."""
    conn = {
        "conn_type": "analytics_api",
        "host": emulator.base_url,  # type: ignore[attr-defined]
        "password": API_KEY,
        "extra": {"key_name": "api_key", "auth_location": "header"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_ANALYTICS_API_DEFAULT", json.dumps(conn))
    return "analytics_api_default"


@pytest.fixture
def duckdb_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("ANALYTICS_DUCKDB_PATH", str(path))
    return path


@pytest.fixture
def pg_database(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A new database in the local PostgreSQL, exposed as Airflow connection `analytics_warehouse`."""
    import psycopg2

    name = f"analytics_test_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(dbname="postgres", **PG_DSN)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    monkeypatch.setenv(
        "AIRFLOW_CONN_ANALYTICS_WAREHOUSE",
        json.dumps({"conn_type": "postgres", "host": "127.0.0.1", "port": 5432, "login": "postgres", "schema": name}),
    )
    try:
        yield name
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def fast_spec(tmp_path: Path) -> str:
    """The shipped spec with a 0.05 s backoff factor, so retry tests take milliseconds, not seconds
    (the retry count and Retry-After handling stay as shipped)."""
    import yaml

    from analytics_provider.config.loader import DEFAULT_SPEC

    raw = yaml.safe_load(DEFAULT_SPEC.read_text())
    raw["client"]["error_handler"]["backoff_factor"] = 0.05
    path = tmp_path / "fast_spec.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)
