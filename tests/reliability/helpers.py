"""Shared by the reliability tests: load tasks in processes of their own, destination queries, the emulator's truth."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

DAY = timedelta(days=1)
Query = Callable[[str], list[tuple[Any, ...]]]


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S")


# --- destinations ---------------------------------------------------------------------------


def duckdb_query(path: Path) -> Query:
    def query(sql: str) -> list[tuple[Any, ...]]:
        import duckdb

        with duckdb.connect(str(path), read_only=True) as con:
            return con.execute(sql).fetchall()

    return query


def pg_query(database: str) -> Query:
    def query(sql: str) -> list[tuple[Any, ...]]:
        import psycopg2

        con = psycopg2.connect(host="127.0.0.1", user="postgres", dbname=database)
        try:
            with con.cursor() as cur:
                cur.execute(sql)
                return cur.fetchall()
        finally:
            con.close()

    return query


@dataclass
class Destination:
    kind: str
    conn_id: str | None
    query: Query

    @property
    def kwargs(self) -> dict[str, Any]:
        return {"destination_conn_id": self.conn_id} if self.conn_id else {}

    def tables(self) -> set[str]:
        rows = self.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'analytics'")
        return {r[0] for r in rows}

    def ids(self, table: str, column: str = "id") -> list[Any]:
        if table not in self.tables():
            return []
        return [r[0] for r in self.query(f"SELECT {column} FROM analytics.{table}")]

    def completed_loads(self) -> int:
        if "_dlt_loads" not in self.tables():
            return 0
        return self.query("SELECT count(*) FROM analytics._dlt_loads WHERE status = 0")[0][0]


def make_destination(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Destination:
    """DuckDB: the default file (`ANALYTICS_DUCKDB_PATH`, set by the `duckdb_path` fixture);
    PostgreSQL: a fresh database as connection `analytics_warehouse`."""
    if kind == "duckdb":
        path = request.getfixturevalue("duckdb_path")
        return Destination("duckdb", None, duckdb_query(path))
    database = request.getfixturevalue("pg_database")
    return Destination("postgres", "analytics_warehouse", pg_query(database))


# --- truth ----------------------------------------------------------------------------------


def assert_exactly_once(loaded: list[Any], truth: list[Any] | set[Any], what: str) -> None:
    """Every true key once, nothing else: no gap, no duplicate."""
    dupes = len(loaded) - len(set(loaded))
    missing, extra = set(truth) - set(loaded), set(loaded) - set(truth)
    assert not dupes and not missing and not extra, (
        f"{what}: {dupes} duplicated, {len(missing)} missing, {len(extra)} unexpected "
        f"(loaded {len(loaded)}, truth {len(set(truth))}); missing e.g. {sorted(missing, key=str)[:3]}"
    )


def workflows_of(emulator: Any, pipeline_ids: set[str]) -> list[dict[str, Any]]:
    return [w for w in emulator.truth("pipeline_workflows") if w["pipeline_id"] in pipeline_ids]


def jobs_of(emulator: Any, workflow_ids: set[str]) -> list[dict[str, Any]]:
    return [j for j in emulator.truth("workflow_jobs") if j["workflow_id"] in workflow_ids]


def pipeline_pages(emulator: Any) -> int:
    return int(emulator.stats()["routes"].get("GET /v2/pipeline", 0))


# --- tasks in processes of their own ----------------------------------------------------------

# Task processes fork from a forkserver that imported Airflow, dlt and the provider once (as
# Airflow's LocalExecutor forks its task processes), so a task costs its work, not 4 s of imports.
PRELOAD = [
    "tests.reliability.runner",
    "airflow.sdk",
    "dlt",
    "dlt.sources.rest_api",
    "dlt.destinations",
    "dlt.load.load",
    "duckdb",
    "psycopg2",
    "analytics_provider.operators.load",
    "analytics_provider.testing.chain",
    "analytics_provider.dlt_source.builder",
    "analytics_provider.warehouse.destinations",
]
_MP = multiprocessing.get_context("forkserver")
_MP.set_forkserver_preload(PRELOAD)


def context(start: datetime | None = None, end: datetime | None = None, run_type: str = "scheduled") -> dict:
    return {
        "start": start.isoformat() if start else None,
        "end": end.isoformat() if end else None,
        "run_type": run_type,
    }


@dataclass
class Task:
    """A load task (or chain) running in its own process."""

    name: str
    proc: Any  # multiprocessing.Process
    workdir: Path
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return int(self.proc.pid)

    @property
    def marker(self) -> Path:
        return self.workdir / f"{self.name}.paused"

    def log(self) -> str:
        parts = []
        for stream in ("stdout", "stderr"):
            path = self.workdir / f"{self.name}.{stream}"
            if path.exists():
                parts.append(path.read_text(errors="replace"))
        return "\n".join(parts)

    def times(self) -> tuple[float, float]:
        """When the finished task started and ended its work (wall clock)."""
        times = json.loads((self.workdir / f"{self.name}.times.json").read_text())
        return times["start"], times["end"]

    def alive(self) -> bool:
        return bool(self.proc.is_alive())

    def _join(self, timeout: float) -> int | None:
        self.proc.join(timeout)
        return self.proc.exitcode

    def wait(self, timeout: float = 120.0) -> Any:
        """Wait for a normal end; the summary the task returned (its XCom)."""
        code = self._join(timeout)
        if code is None:
            self.kill()
            raise AssertionError(f"task {self.name} did not finish in {timeout}s:\n{self.log()[-3000:]}")
        assert code == 0, f"task {self.name} exited with {code}:\n{self.log()[-3000:]}"
        return json.loads((self.workdir / f"{self.name}.out.json").read_text())

    def wait_failed(self, timeout: float = 120.0) -> str:
        code = self._join(timeout)
        if code is None:
            self.kill()
            raise AssertionError(f"task {self.name} did not finish in {timeout}s:\n{self.log()[-3000:]}")
        assert code != 0, f"task {self.name} was expected to fail:\n{self.log()[-3000:]}"
        return self.log()

    def kill(self) -> None:
        """SIGKILL, as the OOM killer or a lost worker would: no cleanup runs."""
        if self.proc.exitcode is None:
            os.kill(self.pid, signal.SIGKILL)
        self.proc.join(30)
        assert self.proc.exitcode is not None

    def kill_during_extract(self) -> None:
        """SIGKILL a task started with `pause_at="load_start"`, and check that the kill landed before
        its extract ended (the pause point was not reached): the pause keeps a slow test honest, it
        never lets the task load before the kill."""
        reached = self.marker.exists()
        self.kill()
        assert not reached, f"task {self.name}: extract had ended before the kill; the test ran too slowly"

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 60.0, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if not self.alive():
                raise AssertionError(f"task {self.name} ended ({self.proc.exitcode}) before {what}:\n{self.log()}")
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"task {self.name}: {what} did not happen in {timeout}s:\n{self.log()[-3000:]}")
            time.sleep(0.01)

    def wait_paused(self, timeout: float = 90.0) -> None:
        self.wait_until(self.marker.exists, timeout, f"pause point {self.config.get('pause_at')}")


def start_task(
    workdir: Path,
    name: str,
    *,
    chain: list[str] | None = None,
    resource: str | None = None,
    parent_keys: list[dict[str, Any]] | None = None,
    ctx: dict[str, Any] | None = None,
    pause_at: str | None = None,
    keep_workdirs: bool = False,
    env: dict[str, str] | None = None,
    **kwargs: Any,
) -> Task:
    """Start one task (resource + parent keys) or a chain in a new process, with this process's
    environment (connections, ANALYTICS_DUCKDB_PATH, AIRFLOW_HOME) plus `env`."""
    from tests.reliability.runner import child_main

    workdir.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {
        "context": ctx or context(),
        "kwargs": kwargs,
        "out": str(workdir / f"{name}.out.json"),
        "times": str(workdir / f"{name}.times.json"),
        "pause_at": pause_at,
        "marker": str(workdir / f"{name}.paused"),
        "keep_workdirs": keep_workdirs,
    }
    if chain is not None:
        config["chain"] = chain
    else:
        config["task"] = {"resource": resource, "parent_keys": parent_keys, "task_id": name}
    (workdir / f"{name}.json").write_text(json.dumps(config))
    # the working dir a killed task leaves behind lands in the test's tmp dir, not in /tmp
    task_tmp = workdir / f"{name}.tmp"
    task_tmp.mkdir(exist_ok=True)
    proc_env = {**os.environ, "TMPDIR": str(task_tmp), **(env or {})}
    proc = _MP.Process(
        target=child_main,
        args=(config, proc_env, str(workdir / f"{name}.stdout"), str(workdir / f"{name}.stderr")),
        name=f"task-{name}",
        daemon=True,  # a task left paused by a failing test does not outlive the test session
    )
    proc.start()
    return Task(name, proc, workdir, config)


def assert_ran_at_the_same_time(tasks: list[Task]) -> None:
    """There was a moment when every one of `tasks` was running."""
    spans = [task.times() for task in tasks]
    assert max(s for s, _ in spans) < min(e for _, e in spans), f"the tasks did not overlap: {spans}"


def run_task(workdir: Path, name: str, timeout: float = 120.0, **kwargs: Any) -> Any:
    return start_task(workdir, name, **kwargs).wait(timeout)


# --- tasks in this process ------------------------------------------------------------------


def run_here(
    resource: str, ctx: dict[str, Any] | None = None, parent_keys: list[dict[str, Any]] | None = None, **kwargs: Any
) -> dict[str, Any]:
    """One task in this process (a normal attempt or a retry)."""
    from analytics_provider.operators.load import AnalyticsLoadOperator
    from analytics_provider.testing.chain import task_context

    ctx = ctx or context()
    start, end = ctx.get("start"), ctx.get("end")
    op = AnalyticsLoadOperator(task_id=resource, resource=resource, parent_keys=parent_keys, **kwargs)
    return op.execute(
        task_context(
            datetime.fromisoformat(start) if start else None,
            datetime.fromisoformat(end) if end else None,
            ctx.get("run_type", "scheduled"),
        )
    )


def batches(
    summary: dict[str, Any] | list[dict[str, Any]], child: str, batch_size: int = 0, **dest_kwargs: Any
) -> list[list[dict]]:
    """What the DAG's `plan_<child>` task hands the child: keys read from the rows the parent loaded."""
    from analytics_provider.fanout.batching import plan_batches

    return plan_batches(summary, child=child, batch_size=batch_size, **dest_kwargs)


def completed_loads_of(dest: Destination, schema: str) -> int:
    if "_dlt_loads" not in dest.tables():
        return 0
    return dest.query(f"SELECT count(*) FROM analytics._dlt_loads WHERE schema_name = '{schema}' AND status = 0")[0][0]


def created(row: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(row["created_at"].replace("Z", "+00:00"))


def next_run_bounds(before: list[dict], truth: list[dict], lookback: Any) -> tuple[list[dict], list[dict]]:
    """What a further scheduled run must load (pipelines newer than their org's stored cursor) and
    may re-load (those within `lookback` of that cursor): dlt keeps one cursor per org."""

    def org_of(p: dict) -> str:
        return "/".join(p["project_slug"].split("/")[:2])

    cursors: dict[str, Any] = {}
    for p in before:
        cursors[org_of(p)] = max(cursors.get(org_of(p), created(p)), created(p))
    new = [p for p in truth if org_of(p) not in cursors or created(p) > cursors[org_of(p)]]
    reread = [p for p in truth if org_of(p) not in cursors or created(p) >= cursors[org_of(p)] - lookback]
    return new, reread


def stored_cursors(dest: Destination, pipeline_name: str = "analytics__pipelines") -> list[datetime]:
    """The `created_at` cursors (one per org) in the newest committed dlt state of `pipeline_name`,
    as the next task restores it from the destination."""
    from dlt.common.versioned_state import decompress_state

    rows = dest.query(
        "SELECT s.state FROM analytics._dlt_pipeline_state s JOIN analytics._dlt_loads l "
        f"ON l.load_id = s._dlt_load_id WHERE s.pipeline_name = '{pipeline_name}' AND l.status = 0 "
        "ORDER BY l.load_id DESC LIMIT 1"
    )
    assert rows, f"no committed state of {pipeline_name}"
    state = decompress_state(rows[0][0])
    cursors = []
    for source in state.get("sources", {}).values():
        for resource in source.get("resources", {}).values():
            value = resource.get("incremental", {}).get("created_at", {}).get("last_value")
            if value is not None:
                value = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
                cursors.append(value.astimezone(timezone.utc))
    return sorted(cursors)


def true_cursors(emulator: Any, since: str) -> list[datetime]:
    """The newest `created_at` of each org's pipelines: where a correct cursor stands."""
    newest: dict[str, datetime] = {}
    for p in emulator.truth("pipelines", since=since):
        org = p["project_slug"].rsplit("/", 1)[0]
        newest[org] = max(newest.get(org, created(p)), created(p))
    return sorted(newest.values())
