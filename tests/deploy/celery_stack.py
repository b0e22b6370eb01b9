"""The Celery stack of tests/deploy/test_celery.py: Airflow processes (tests/airflow_stack.py) plus
the Celery broker (Redis) and the PostgreSQL warehouse the DAG loads into."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.airflow_stack import PG, AirflowStack, tail

DAG_ID = "analytics_pipelines"
REDIS_URL = "redis://127.0.0.1:6379/5"
"""Redis DB 5 is the Celery test's: flushed before and after, no other DB touched."""
STOP_GRACE = 20.0


def pg_query(database: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    import psycopg2

    conn = psycopg2.connect(dbname=database, **PG)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def flush_redis_db() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
    finally:
        client.close()


@dataclass
class CeleryStack(AirflowStack):
    metadata_db: str
    warehouse_db: str
    emulator: Any

    def meta(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return pg_query(self.metadata_db, sql, params)

    def warehouse(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return pg_query(self.warehouse_db, sql, params)

    def task_instances(self, run_id: str) -> list[dict[str, Any]]:
        rows = self.meta(
            "SELECT task_id, map_index, state, hostname, try_number FROM task_instance "
            "WHERE dag_id = %s AND run_id = %s ORDER BY task_id, map_index",
            (DAG_ID, run_id),
        )
        return [dict(zip(("task_id", "map_index", "state", "hostname", "try_number"), r, strict=True)) for r in rows]

    def run_report(self, run_id: str) -> str:
        tis = self.task_instances(run_id)
        parts = ["\ntask instances: " + ", ".join(f"{t['task_id']}[{t['map_index']}]={t['state']}" for t in tis)]
        root = self.home / "logs" / f"dag_id={DAG_ID}"
        for ti in tis:
            if ti["state"] not in ("success", "skipped"):
                pattern = f"run_id=*/task_id={ti['task_id']}/" + (
                    f"map_index={ti['map_index']}/*.log" if ti["map_index"] >= 0 else "*.log"
                )
                for log in sorted(root.glob(pattern)):
                    parts.append(f"\n--- {ti['task_id']}[{ti['map_index']}] {log.name} ---\n{tail(log, 30)}")
        return "".join(parts)
