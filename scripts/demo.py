"""The main job on the embedded default: emulator, SQLite metadata DB, `airflow dags test`, DuckDB file.

Starts the API emulator, migrates a throw-away Airflow home under `.demo/`, runs every generated
DAG once for yesterday's data interval (the pipelines DAG loads yesterday and today so far), and
prints the rows loaded per table. Run it with `make demo`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / ".demo"
BIN = Path(sys.executable).parent
API_KEY = "demo-key"
log = logging.getLogger("demo")


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    shutil.rmtree(DEMO, ignore_errors=True)
    (DEMO / "airflow").mkdir(parents=True)
    duckdb_path = DEMO / "warehouse.duckdb"

    from analytics_provider.testing.emulator import EmulatorConfig, spawn_emulator

    emulator = spawn_emulator(EmulatorConfig(port=0, api_key=API_KEY))
    try:
        env = _airflow_env(emulator.base_url, duckdb_path)
        log.info("Emulator at %s; Airflow home %s", emulator.base_url, env["AIRFLOW_HOME"])
        _airflow(env, "db", "migrate")
        _airflow(env, "pools", "set", "analytics_api", "4", "Concurrent calls to the analytics API")
        logical_date = (datetime.now(timezone.utc) - timedelta(days=1)).strftime("%Y-%m-%d")
        for dag_id in (
            "analytics_users",
            "analytics_projects",
            "analytics_pipelines",
            "analytics_tests",
            "analytics_usage",
        ):
            started = time.monotonic()
            _airflow(env, "dags", "test", dag_id, logical_date)
            log.info("%s finished in %.1fs", dag_id, time.monotonic() - started)
        stats = emulator.stats()
        log.info("The emulator answered %s requests", stats.get("total"))
    finally:
        emulator.stop()
    _print_tables(duckdb_path)
    return 0


def _airflow_env(base_url: str, duckdb_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(DEMO / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{DEMO / 'airflow' / 'airflow.db'}",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            "AIRFLOW_CONN_ANALYTICS_API_DEFAULT": json.dumps(
                {"conn_type": "analytics_api", "host": base_url, "password": API_KEY}
            ),
            "ANALYTICS_DUCKDB_PATH": str(duckdb_path),
            "ANALYTICS_TASK_RETRIES": "0",
            "ANALYTICS_USAGE_POLL_SECONDS": "1",  # the emulator's export is done in 2 s
        }
    )
    return env


def _airflow(env: dict[str, str], *args: str) -> None:
    result = subprocess.run([str(BIN / "airflow"), *args], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-4000:] + result.stderr[-4000:])
        raise SystemExit(f"`airflow {' '.join(args)}` failed with exit code {result.returncode}")


def _print_tables(duckdb_path: Path) -> None:
    import duckdb

    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        rows = con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'analytics' "
            "AND table_type = 'BASE TABLE' "
            "AND table_name NOT LIKE '\\_%' ESCAPE '\\' ORDER BY table_name"  # not dlt's or the recorded keys
        ).fetchall()
        width = max(len(name) for (name,) in rows) if rows else 10
        lines = [f"{'table':<{width}}  rows", f"{'-' * width}  ------"]
        for (name,) in rows:
            (count,) = con.execute(f'SELECT count(*) FROM analytics."{name}"').fetchone()
            lines.append(f"{name:<{width}}  {count:>6}")
    sys.stdout.write(f"\nLoaded into {duckdb_path} (dataset `analytics`):\n" + "\n".join(lines) + "\n")
    _print_views(duckdb_path)


def _print_views(duckdb_path: Path) -> None:
    """A few rows of the CI views the DAGs' `refresh_views` tasks created (README, *CI views*)."""
    import duckdb

    from analytics_provider.views.report import render

    with duckdb.connect(str(duckdb_path), read_only=True) as con:

        def query(sql: str) -> tuple[list[str], list[tuple[object, ...]]]:
            cur = con.execute(sql)
            return [d[0] for d in cur.description], cur.fetchall()

        views = {
            r[0]
            for r in query(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'analytics' AND table_type = 'VIEW'"
            )[1]
        }
        sys.stdout.write("\n" + render(query, "analytics", views) + "\n")


if __name__ == "__main__":
    sys.exit(main())
