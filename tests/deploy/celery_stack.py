"""Airflow processes started and stopped by a test: the Celery stack of tests/deploy/test_celery.py.

Each process runs in its own process group (stopped with everything it forked: SIGTERM, then
SIGKILL after a grace period) and logs to a file whose tail goes into every failure message.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
AIRFLOW_BIN = Path(sys.executable).with_name("airflow")
if not AIRFLOW_BIN.exists():  # pragma: no cover - pytest run by an interpreter outside the venv
    AIRFLOW_BIN = REPO / ".venv" / "bin" / "airflow"

DAG_ID = "analytics_pipelines"
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
REDIS_URL = "redis://127.0.0.1:6379/5"
"""Redis DB 5 is the Celery test's: flushed before and after, no other DB touched."""
STOP_GRACE = 20.0


def iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"


def pg_query(database: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    import psycopg2

    conn = psycopg2.connect(dbname=database, **PG)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def pg_admin(sql: str) -> None:
    import psycopg2

    conn = psycopg2.connect(dbname="postgres", **PG)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql)
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
class CeleryStack:
    home: Path
    env: dict[str, str]
    metadata_db: str
    warehouse_db: str
    api_url: str
    emulator: Any
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)

    def start(self, name: str, *args: str, extra_env: dict[str, str] | None = None) -> None:
        log = self.home / f"{name}.log"
        with open(log, "wb") as handle:  # the child keeps its own descriptor
            self.procs[name] = subprocess.Popen(
                [str(AIRFLOW_BIN), *args],
                env={**self.env, **(extra_env or {})},
                cwd=self.home,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopped with everything it forked
            )
        self.logs[name] = log

    def stop(self) -> None:
        """SIGTERM every process group we started, SIGKILL what is left after STOP_GRACE seconds."""
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.1, deadline - time.monotonic()))
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)  # also children a leader left behind
            proc.wait()

    def diagnostics(self, lines: int = 40) -> str:
        parts = []
        for name, path in self.logs.items():
            code = self.procs[name].poll()
            status = "running" if code is None else f"exit code {code}"
            parts.append(f"\n----- {name} ({status}): last {lines} lines -----\n{tail(path, lines)}")
        return "".join(parts)

    def check_alive(self) -> None:
        dead = {name: p.returncode for name, p in self.procs.items() if p.poll() is not None}
        if dead:
            raise AssertionError(f"Airflow processes exited: {dead}" + self.diagnostics())

    def cli(self, *args: str, timeout: float = 180.0) -> str:
        try:
            result = subprocess.run(
                [str(AIRFLOW_BIN), *args], env=self.env, cwd=self.home, capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"`airflow {' '.join(args)}` took over {timeout:.0f}s" + self.diagnostics()) from exc
        if result.returncode != 0:
            raise AssertionError(
                f"`airflow {' '.join(args)}` exited with {result.returncode}\n{result.stdout[-3000:]}\n"
                f"{result.stderr[-3000:]}" + self.diagnostics()
            )
        return result.stdout

    def wait_until(self, what: str, probe: Callable[[], Any], timeout: float, interval: float = 1.0) -> Any:
        deadline = time.monotonic() + timeout
        last: Any = None
        while True:
            try:
                result = probe()
                if result:
                    return result
                last = result
            except Exception as exc:  # not up yet
                last = exc
            self.check_alive()
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not after {timeout:.0f}s (last: {last!r})" + self.diagnostics())
            time.sleep(interval)

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
