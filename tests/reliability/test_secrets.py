"""The API key never leaves the process it is used in: not in task logs, not in XCom, not in
exception text, not in dlt traces, not in any file a run writes (working dirs, the DuckDB file),
with the key in a header and in the query string (`auth_location: query`), on success and on
failure (5xx past the retry budget, a wrong key, a closed port).

The key is long and unique per test, so any hit is a leak. Working directories are kept (the
operator's `TemporaryDirectory` is not removed, as after a SIGKILL) and scanned with everything
else the run wrote; gzip files and dlt's compressed state are decompressed before the scan.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import pickle
import socket
import tempfile
import traceback
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from analytics_provider.testing.emulator import Emulator, EmulatorConfig
from tests.conftest import EMULATOR_NOW
from tests.reliability.helpers import DAY, context, run_here, start_task
from tests.reliability.runner import _KeptTemporaryDirectory

pytestmark = pytest.mark.integration

CHAIN = ["self_collaborations", "pipelines", "pipeline_workflows", "workflow_jobs"]
WINDOW = context(EMULATOR_NOW - DAY / 2, EMULATOR_NOW)


def _unique(prefix: str) -> str:
    return prefix + uuid.uuid4().hex + uuid.uuid4().hex  # long, and no LIKE wildcards


@pytest.fixture
def secret() -> str:
    return _unique("relsecret")


@pytest.fixture
def secret_emulator(secret: str) -> Iterator[Emulator]:
    emu = Emulator(EmulatorConfig(port=0, seed=7, days=30, now=EMULATOR_NOW, api_key=secret))
    emu.start()
    try:
        yield emu
    finally:
        emu.stop()


def _connect(monkeypatch: pytest.MonkeyPatch, base_url: str, key: str, location: str) -> None:
    conn = {
        "conn_type": "analytics_api",
        "host": base_url,
        "password": key,
        "extra": {"key_name": "api_key", "auth_location": location},
    }
    monkeypatch.setenv("AIRFLOW_CONN_ANALYTICS_API_DEFAULT", json.dumps(conn))


# --- where to look ----------------------------------------------------------------------------


def _in_bytes(data: bytes, key: str) -> bool:
    if key.encode() in data:
        return True
    if data[:2] == b"\x1f\x8b":  # dlt writes its load files gzip-compressed
        try:
            return key.encode() in gzip.decompress(data)
        except (OSError, EOFError):
            return False
    return False


def scan_tree(root: Path, key: str) -> list[str]:
    """Files under `root` holding the key (raw or gzip-compressed), and dlt traces that render it."""
    hits = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if _in_bytes(data, key):
            hits.append(f"file {path}")
        if path.name == "trace.pickle":
            try:
                trace = pickle.loads(data)
            except Exception:
                continue
            if key in str(trace) or key in repr(trace.asdict()):
                hits.append(f"dlt trace {path} (rendered)")
    return hits


def _a_loaded_pipeline_id(path: Path) -> str:
    import duckdb

    with duckdb.connect(str(path), read_only=True) as con:
        row = con.execute("SELECT id FROM analytics.pipelines LIMIT 1").fetchone()
    assert row, "the chain loaded pipelines"
    return str(row[0])


def scan_duckdb(path: Path, key: str) -> list[str]:
    """Every text column of every table, and dlt's compressed pipeline state, in the DuckDB file."""
    import duckdb
    from dlt.common.versioned_state import decompress_state

    hits = []
    with duckdb.connect(str(path), read_only=True) as con:
        columns = con.execute(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns "
            "WHERE data_type IN ('VARCHAR', 'JSON')"
        ).fetchall()
        for schema, table, column in columns:
            found = con.execute(
                f'SELECT count(*) FROM "{schema}"."{table}" WHERE strpos(CAST("{column}" AS VARCHAR), ?) > 0', [key]
            ).fetchone()
            if found and found[0]:
                hits.append(f"duckdb {schema}.{table}.{column}: {found[0]} rows")
        for schema, table, _ in {(s, t, "") for s, t, c in columns if t == "_dlt_pipeline_state"}:
            for (state,) in con.execute(f'SELECT state FROM "{schema}"."{table}"').fetchall():
                if key in json.dumps(decompress_state(state), default=str):
                    hits.append(f"duckdb {schema}.{table}: decompressed state")
    return hits


def scan_text(text: str, key: str, where: str) -> list[str]:
    if key not in text:
        return []
    at = text.index(key)
    return [f"{where}: ...{text[max(0, at - 150) : at].strip()}<KEY>"]


# --- success ----------------------------------------------------------------------------------


@pytest.mark.parametrize("location", ["header", "query"])
def test_a_successful_chain_leaves_the_key_in_no_log_xcom_trace_or_file(
    location: str,
    secret: str,
    secret_emulator: Emulator,
    duckdb_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _connect(monkeypatch, secret_emulator.base_url, secret, location)
    tmp, home = tmp_path / "tmp", tmp_path / "home"
    tmp.mkdir()
    home.mkdir()

    env = {"TMPDIR": str(tmp), "HOME": str(home)}
    task = start_task(tmp_path / "task", "chain", chain=CHAIN, ctx=WINDOW, keep_workdirs=True, env=env)
    out = task.wait(180)

    stats = secret_emulator.stats()
    assert stats["total"] > 20 and set(stats["by_status"]) == {"200"}, "the key was sent and accepted"
    assert out["workflow_jobs"][0]["rows"], "the chain loaded rows"
    workdirs = list(tmp.glob("analytics_dlt_*"))
    assert len(workdirs) >= len(CHAIN), "the operator's working dirs should have landed in TMPDIR"
    assert list(tmp.rglob("trace.pickle")), "dlt should have written its traces"
    # the scans can see: a loaded value is found in the (gzip-compressed) load files and the DuckDB file
    known = _a_loaded_pipeline_id(duckdb_path)
    assert scan_tree(tmp, known) and scan_duckdb(duckdb_path, known)
    hits = [
        *scan_text(task.log(), secret, "task log (stdout/stderr)"),
        *scan_text(json.dumps(out), secret, "XCom summaries"),
        *scan_tree(tmp_path, secret),
        *scan_tree(Path(os.environ["AIRFLOW_HOME"]), secret),
        *scan_duckdb(duckdb_path, secret),
    ]
    assert not hits, "the API key leaked:\n" + "\n".join(hits)


# --- failures ---------------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("failure", "location"),
    [
        ("5xx past the retry budget", "header"),
        ("5xx past the retry budget", "query"),
        ("wrong key (401)", "header"),
        ("wrong key (401)", "query"),
        ("closed port", "header"),
        pytest.param("closed port", "query"),
    ],
)
def test_a_failing_task_leaves_the_key_in_no_log_exception_trace_or_file(
    failure: str,
    location: str,
    secret: str,
    secret_emulator: Emulator,
    duckdb_path: Path,
    fast_spec: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    import dlt

    key, base_url = secret, secret_emulator.base_url
    if failure == "5xx past the retry budget":
        secret_emulator.set_faults({"seed": 1, "rules": [{"kind": "status", "status": 500, "count": 1000}]})
    elif failure == "wrong key (401)":
        key = _unique("relwrongkey")
    else:
        base_url = f"http://127.0.0.1:{_closed_port()}"
    _connect(monkeypatch, base_url, key, location)
    work = tmp_path / "tmp"
    work.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(work))
    monkeypatch.setattr(tempfile, "TemporaryDirectory", _KeptTemporaryDirectory)
    pipelines: list[Any] = []
    original_pipeline = dlt.pipeline

    def recording_pipeline(*args: Any, **kwargs: Any) -> Any:
        pipelines.append(original_pipeline(*args, **kwargs))
        return pipelines[-1]

    monkeypatch.setattr(dlt, "pipeline", recording_pipeline)
    caplog.set_level(logging.INFO)

    with pytest.raises(Exception) as caught:
        run_here("self_collaborations", WINDOW, spec_path=fast_spec)

    exc = caught.value
    if failure != "closed port":
        assert secret_emulator.stats()["total"] >= 1, "the request reached the emulator"
    printed = "".join(traceback.format_exception(exc))
    out, err = capfd.readouterr()
    hits = [
        *scan_text(str(exc) + repr(exc), key, "exception text"),
        *scan_text(printed, key, "printed traceback"),
        *scan_text(out + err, key, "task log (stdout/stderr)"),
        *scan_text("\n".join(r.getMessage() for r in caplog.records), key, "log records"),
        *scan_tree(tmp_path, key),
        *(scan_duckdb(duckdb_path, key) if duckdb_path.exists() else []),
    ]
    for pipeline in pipelines:
        trace = pipeline.last_trace
        if trace is not None:
            rendered = str(trace) + repr(trace.asdict())
            hits += scan_text(rendered, key, f"pipeline.last_trace of {pipeline.pipeline_name}")
    assert pipelines, "the run should have created its dlt pipeline"
    assert not hits, f"the API key leaked ({failure}, key in {location}):\n" + "\n".join(hits)
