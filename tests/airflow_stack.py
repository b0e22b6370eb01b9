"""Real Airflow processes started and stopped by a test, shared by tests/e2e and tests/deploy.

Each process (`airflow api-server`, `scheduler`, `celery worker`...) runs in its own process group
(stopped with everything it forked: SIGTERM, then SIGKILL after a grace period) and logs to a file
whose tail goes into every failure message. The metadata database is a fresh PostgreSQL database,
dropped afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
AIRFLOW_BIN = Path(sys.executable).with_name("airflow")
if not AIRFLOW_BIN.exists():  # pragma: no cover - pytest run by an interpreter outside the venv
    AIRFLOW_BIN = REPO / ".venv" / "bin" / "airflow"

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
LOCAL_EXECUTOR = "analytics_provider.executors.local.AnalyticsLocalExecutor"
"""The README's embedded default: the LocalExecutor, its task processes forked with dlt imported."""

LOG_NOISE = re.compile(r"\[http\.access\]|Refreshing bundle|Searching for files in|files for bundle")
"""Log lines left out of tails: the api-server's access log (the test's own polling) and the
dag-processor's folder scans every few seconds."""


def iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"
    return "\n".join([line for line in text.splitlines() if not LOG_NOISE.search(line)][-lines:])


def pg_admin(sql: str) -> None:
    """Run one statement (CREATE/DROP DATABASE) on the local PostgreSQL server, outside a transaction."""
    import psycopg2

    conn = psycopg2.connect(dbname="postgres", **PG)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


@contextlib.contextmanager
def temporary_database(name: str) -> Iterator[str]:
    """A fresh PostgreSQL database, dropped (with its open connections) on exit."""
    pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def airflow_env(
    *, home: Path, database: str, port: int, emulator_url: str, api_key: str, settings: dict[str, str]
) -> dict[str, str]:
    """The environment of every process of a stack: this one's without its Airflow and analytics
    settings, plus what all stacks share (metadata `database`, api-server on `port`, the emulator as
    the `analytics_api_default` connection), then the stack's own `settings` (executor...)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "ANALYTICS_"))}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://postgres@127.0.0.1:5432/{database}",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            # the REST API without logins (tests read run and task states through it)
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            # one key for every component: the scheduler signs task tokens, the api-server checks them
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            # no run for the real-world "yesterday" (catchup is off, the wall clock is not the
            # emulator's): only the runs a test creates
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            "AIRFLOW_CONN_ANALYTICS_API_DEFAULT": json.dumps(
                {"conn_type": "analytics_api", "host": emulator_url, "password": api_key}
            ),
            "PROVIDERS__ENABLE_AIRFLOW_SECRETS": "false",
            "RUNTIME__DLTHUB_TELEMETRY": "false",
        }
    )
    env.update(settings)
    return env


@dataclass
class AirflowStack:
    """Airflow processes running in `home` with `env`, the api-server on 127.0.0.1:`port`."""

    home: Path
    env: dict[str, str]
    port: int
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict, init=False)
    logs: dict[str, Path] = field(default_factory=dict, init=False)
    _stopped: bool = field(default=False, init=False, repr=False)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- processes --------------------------------------------------------------------------
    def start(self, name: str, *args: str, extra_env: dict[str, str] | None = None) -> None:
        """`airflow <args>` in the background, logging to `<home>/<name>.log`."""
        log = self.home / f"{name}.log"
        with open(log, "wb") as handle:  # the child keeps its own copy of the descriptor
            self.procs[name] = subprocess.Popen(
                [str(AIRFLOW_BIN), *args],
                env={**self.env, **(extra_env or {})},
                cwd=self.home,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopped with everything it spawned
            )
        self.logs[name] = log

    def start_core(self) -> None:
        """The api-server, the dag-processor and the scheduler."""
        self.start("api-server", "api-server", "--host", "127.0.0.1", "--port", str(self.port))
        self.start("dag-processor", "dag-processor")
        self.start("scheduler", "scheduler")

    def stop(self, grace: float) -> None:
        """SIGTERM each process group we started, SIGKILL what is left after `grace` seconds, and then
        every descendant seen before (task processes run in sessions of their own). Once: later
        calls do nothing (the pids may name other processes by then)."""
        import psutil

        if self._stopped:
            return
        self._stopped = True
        descendants: list[psutil.Process] = []
        for proc in self.procs.values():
            if proc.poll() is None:  # not reaped: the pid is still this process's
                with contextlib.suppress(psutil.Error):
                    descendants += psutil.Process(proc.pid).children(recursive=True)
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.1, deadline - time.monotonic()))
        for proc in self.procs.values():
            # the group id is the pid of the leader we started: this also reaches children it left behind
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for child in descendants:  # psutil checks the pid still names the process it saw
            with contextlib.suppress(psutil.Error):
                child.kill()
        psutil.wait_procs(descendants, timeout=10)

    # -- diagnostics ------------------------------------------------------------------------
    def diagnostics(self, lines: int = 40) -> str:
        parts = []
        for name, path in self.logs.items():
            code = self.procs[name].poll()
            status = "running" if code is None else f"exit code {code}"
            parts.append(f"\n----- {name} ({status}): last {lines} lines of {path} -----\n{tail(path, lines)}")
        return "".join(parts)

    def check_alive(self) -> None:
        dead = {name: p.returncode for name, p in self.procs.items() if p.poll() is not None}
        if dead:
            raise AssertionError(f"Airflow processes exited: {dead}" + self.diagnostics())

    def wait_until(self, what: str, probe: Callable[[], Any], timeout: float, interval: float = 1.0) -> Any:
        """Poll `probe` until it returns something true (exceptions count as not yet); fail at the
        deadline or as soon as one of the processes exits, with their logs."""
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
                raise AssertionError(f"{what}: not ready after {timeout:.0f}s (last: {last!r})" + self.diagnostics())
            time.sleep(interval)

    # -- CLI and REST -----------------------------------------------------------------------
    def cli(self, *args: str, timeout: float = 180.0) -> str:
        """`airflow <args>` with the stack's environment; its stdout, or a failure with both outputs."""
        cmd = [str(AIRFLOW_BIN), *args]
        try:
            result = subprocess.run(cmd, env=self.env, cwd=self.home, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(
                f"`airflow {' '.join(args)}` took more than {timeout:.0f}s" + self.diagnostics()
            ) from exc
        if result.returncode != 0:
            raise AssertionError(
                f"`airflow {' '.join(args)}` exited with {result.returncode}\n--- stdout ---\n"
                f"{result.stdout[-3000:]}\n--- stderr ---\n{result.stderr[-3000:]}" + self.diagnostics()
            )
        return result.stdout

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """One call of the REST API (`/api/v2/<path>`): its JSON, or a failure with the response."""
        import requests

        response = requests.request(method, f"{self.api_url}/api/v2/{path}", timeout=30, **kwargs)
        if not response.ok:
            raise AssertionError(f"{method} /api/v2/{path}: HTTP {response.status_code}: {response.text[:1000]}")
        return response.json()

    def wait_for_api_server(self, timeout: float) -> None:
        self.wait_until("api-server healthy", lambda: self.api("GET", "monitor/health"), timeout)


@contextlib.contextmanager
def local_stack(
    home: Path,
    emulator_config: Any,
    settings: dict[str, str],
    dag_ids: set[str],
    unpause: tuple[str, ...] = (),
    startup_timeout: float = 180.0,
    processes: tuple[str, ...] = (),
    pools: dict[str, int] | None = None,
    factory: Callable[..., AirflowStack] | None = None,
) -> Iterator[tuple[Any, Any, Path]]:
    """A LocalExecutor stack in `home` over a fresh metadata database and a spawned emulator, the
    DuckDB file `home/warehouse.duckdb` as destination, once `dag_ids` are parsed and `unpause` are
    unpaused: (stack, emulator, DuckDB path). `processes` (e.g. `triggerer`) start beside the core
    ones, `pools` are created; `factory(home=, env=, port=, emulator=, duckdb_path=)` makes a stack
    of a subclass. Everything is stopped and dropped on exit."""
    import uuid

    from analytics_provider.testing.emulator import spawn_emulator

    database = f"airflow_{home.name.lower()}_{uuid.uuid4().hex[:8]}"
    port = free_port()
    with contextlib.ExitStack() as cleanup:
        cleanup.enter_context(temporary_database(database))
        emulator = spawn_emulator(emulator_config)
        cleanup.callback(emulator.stop)
        duckdb_path = home / "warehouse.duckdb"
        env = airflow_env(
            home=home,
            database=database,
            port=port,
            emulator_url=emulator.base_url,
            api_key=emulator_config.api_key,
            settings={
                "AIRFLOW__CORE__EXECUTOR": LOCAL_EXECUTOR,
                "ANALYTICS_DUCKDB_PATH": str(duckdb_path),
                **settings,
            },
        )
        if factory is None:
            stack = AirflowStack(home=home, env=env, port=port)
        else:
            stack = factory(home=home, env=env, port=port, emulator=emulator, duckdb_path=duckdb_path)
        cleanup.callback(stack.stop, 30.0)
        stack.cli("db", "migrate", timeout=300)
        for pool, slots in (pools or {}).items():
            stack.cli("pools", "set", pool, str(slots), "analytics")
        stack.start_core()
        for name in processes:
            stack.start(name, name)
        stack.wait_for_api_server(startup_timeout)

        def parsed() -> bool:
            errors = stack.api("GET", "importErrors")["import_errors"]
            assert not errors, f"DAG import errors: {errors}"
            dags = stack.api("GET", "dags", params={"dag_id_pattern": "analytics_", "limit": 100})["dags"]
            return {d["dag_id"] for d in dags} >= dag_ids

        stack.wait_until("DAGs parsed", parsed, startup_timeout)
        for dag_id in unpause:
            stack.cli("dags", "unpause", dag_id)
        yield stack, emulator, duckdb_path
