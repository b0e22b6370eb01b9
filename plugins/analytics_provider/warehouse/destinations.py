"""An Airflow connection (or none) -> a dlt destination, its preferred file format, and its write lock."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_DUCKDB_ENV = "ANALYTICS_DUCKDB_PATH"
DUCKDB_MEMORY_ENV = "ANALYTICS_DUCKDB_MEMORY_LIMIT"
DEFAULT_DUCKDB_MEMORY_LIMIT = "128MB"
"""DuckDB's own default is 80 % of the machine's RAM, in every task process: four mapped tasks on
one worker could claim 3.2x the RAM. Bounded, DuckDB spills to `<file>.tmp` instead; a 1M-row merge
stays near this much (bench/memory.py). `ANALYTICS_DUCKDB_MEMORY_LIMIT` or a `duckdb` connection's
`memory_limit` extra changes it."""


@dataclass
class DestinationTarget:
    """`lock` serialises the steps that write (or read state from) the destination: one DuckDB file
    takes one writer at a time, and dlt's merge staging dataset is shared by every task of a dataset."""

    kind: str
    factory: Callable[[], Any]
    lock: Callable[[str], contextlib.AbstractContextManager[None]]
    file_format: str | None = None
    display: str = ""
    load_workers: int | None = None
    """dlt's parallel load jobs (None: dlt's default, 20)."""
    connect: Callable[[], Any] | None = None
    """DuckDB: opens the file, for `holding` (None: dlt connects as it likes)."""

    def lock_for(self, dataset: str) -> contextlib.AbstractContextManager[None]:
        """The lock of one dataset of this destination (every task writing or reading it takes it)."""
        return self.lock(f"{self.display}/{dataset}")

    @contextlib.contextmanager
    def holding(self, dataset: str, pipeline: Any) -> Iterator[None]:
        """The dataset's lock and, for a DuckDB file, one connection to it that every step `pipeline`
        takes while the lock is held shares. dlt opens and closes the file for each step (about ten
        times in a task, each reading the catalog and checkpointing on close: CPU that a first load's
        tasks compete for); the file is closed again before the lock is let go, for the next process."""
        with self.lock_for(dataset):
            if self.connect is None:
                yield
                return
            params = pipeline.destination.config_params
            own = params.get("credentials")
            conn = self.connect()
            params["credentials"] = conn  # dlt takes a connection as credentials and leaves it open
            try:
                yield
            finally:
                params["credentials"] = own
                conn.close()

    @contextlib.contextmanager
    def reading(self, dataset: str) -> Iterator[Any]:
        """dlt's SQL client on `dataset`, under the dataset's lock: for reading what loads wrote (a
        throwaway dlt pipeline in a temp dir; no state is read or written)."""
        import dlt

        with tempfile.TemporaryDirectory(prefix="analytics_dlt_") as workdir:
            pipeline = dlt.pipeline(
                pipeline_name=f"{dataset}__read",
                destination=self.factory(),
                dataset_name=dataset,
                pipelines_dir=workdir,
            )
            with self.holding(dataset, pipeline), pipeline.sql_client() as sql:
                yield sql


@contextlib.contextmanager
def open_sql(conn_id: str | None, dataset: str) -> Iterator[Any]:
    """`DestinationTarget.reading` of the destination of `conn_id`, for tasks that have no target yet."""
    from analytics_provider.dlt_runtime import configure_dlt_environment

    configure_dlt_environment()
    with resolve_destination(conn_id).reading(dataset) as sql:
        yield sql


def default_duckdb_path() -> Path:
    explicit = os.environ.get(DEFAULT_DUCKDB_ENV)
    if explicit:
        return Path(explicit)
    home = Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow"))
    # not `<dataset>.duckdb`: DuckDB names the catalog after the file, and a catalog named like the
    # dataset makes every `analytics.<table>` reference ambiguous
    return home / "warehouse.duckdb"


def resolve_destination(conn_id: str | None) -> DestinationTarget:
    """No connection: the DuckDB file at `$ANALYTICS_DUCKDB_PATH` (default `$AIRFLOW_HOME/warehouse.duckdb`).
    A `duckdb` connection: its host or `path` extra is the file. A `postgres` connection: that database.
    Any other type: the dlt destination of that name, with the connection's URI as credentials."""
    if not conn_id:
        return _duckdb(default_duckdb_path())
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    kind = (conn.conn_type or "").lower()
    extras = conn.extra_dejson or {}
    if kind == "duckdb":
        path = extras.get("path") or conn.host or (f"/{conn.schema}" if conn.schema else None)
        if not path:
            raise ValueError(f"Airflow connection `{conn_id}` (duckdb) needs the file path as host or `path` extra")
        return _duckdb(Path(path), extras.get("memory_limit"))
    if kind in ("postgres", "postgresql"):
        credentials = {
            "host": conn.host or "127.0.0.1",
            "port": conn.port or 5432,
            "username": conn.login or "postgres",
            "password": conn.password or "",
            "database": conn.schema or extras.get("database") or "postgres",
        }
        return _postgres(credentials, conn_id)
    return DestinationTarget(
        kind=kind,
        factory=lambda: _generic_destination(kind, conn.get_uri(), extras),
        lock=_machine_lock,
        display=f"{kind} (connection `{conn_id}`)",
    )


def _machine_lock(key: str) -> contextlib.AbstractContextManager[None]:
    """The write lock of a destination with no lock of its own (not DuckDB or PostgreSQL): a file
    lock that serialises the tasks of one machine (LocalExecutor), not those of other Celery
    workers; said once per process, so a distributed setup knows to serialise them itself (a pool
    of one slot for the DAGs writing that dataset)."""
    if key not in _WARNED:
        _WARNED.add(key)
        log.warning(
            "Destination %s: its writes are serialised per machine only; tasks on other workers may load "
            "the same dataset at once (dlt's staging dataset is shared): give those DAGs a pool of one slot.",
            key,
        )
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return file_lock(Path(tempfile.gettempdir()) / f"analytics_destination_{digest}.lock")


_WARNED: set[str] = set()


def _generic_destination(kind: str, uri: str, extras: dict[str, Any]) -> Any:
    import dlt

    return dlt.destination(kind, credentials=uri, **extras)


def _duckdb(path: Path, memory_limit: str | None = None) -> DestinationTarget:
    limit = memory_limit or os.environ.get(DUCKDB_MEMORY_ENV) or DEFAULT_DUCKDB_MEMORY_LIMIT

    def factory() -> Any:
        import dlt
        from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

        from analytics_provider.warehouse.duckdb_copy import install

        install()  # jsonl loads keep the table's types (JSON values as sent)
        path.parent.mkdir(parents=True, exist_ok=True)
        return dlt.destinations.duckdb(DuckDbCredentials(str(path), global_config={"memory_limit": limit}))

    def connect() -> Any:
        import duckdb

        path.parent.mkdir(parents=True, exist_ok=True)
        return duckdb.connect(str(path), config={"memory_limit": limit})

    return DestinationTarget(
        kind="duckdb",
        factory=factory,
        connect=connect,
        lock=lambda _key: file_lock(path.with_name(path.name + ".lock")),
        file_format="jsonl",
        display=f"duckdb file {path}",
        # one job at a time: jobs share the file's memory limit, and several files of a table
        # (dlt's `file_max_items`) loaded at once ran out of it and were retried
        load_workers=1,
    )


def _postgres(credentials: dict[str, Any], conn_id: str) -> DestinationTarget:
    def factory() -> Any:
        import dlt

        return dlt.destinations.postgres(credentials=dict(credentials))

    return DestinationTarget(
        kind="postgres",
        factory=factory,
        lock=lambda key: pg_advisory_lock(credentials, key),
        display=f"postgres {credentials['host']}:{credentials['port']}/{credentials['database']} "
        f"(connection `{conn_id}`)",
    )


@contextlib.contextmanager
def file_lock(lock_path: Path, timeout_s: float = 3600.0) -> Iterator[None]:
    """An exclusive `flock` on `lock_path`, waited for up to `timeout_s`."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as handle:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"waited {timeout_s:.0f}s for the write lock {lock_path}") from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def pg_advisory_lock(credentials: dict[str, Any], key: str) -> Iterator[None]:
    """A session-level PostgreSQL advisory lock on `key`, held on its own connection."""
    import psycopg2

    lock_id = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
    conn = psycopg2.connect(
        host=credentials["host"],
        port=credentials["port"],
        user=credentials["username"],
        password=credentials["password"],
        dbname=credentials["database"],
    )
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (lock_id,))
        yield
    finally:
        conn.close()  # closing the session releases the lock
