"""What the benchmark children run: one load of `pipelines` through the operator or through plain dlt.

Used by throughput.py and memory.py. Each load runs in a fresh process (as an Airflow task does),
writes into its own DuckDB file and reports rows, per-phase seconds and requests as JSON.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

import _common

PHASES = ("sync_destination", "extract", "normalize", "load")


@contextmanager
def phase_timer() -> Any:
    """Time dlt's pipeline steps, whoever calls them (wraps the class methods; behaviour unchanged)."""
    from dlt.pipeline.pipeline import Pipeline

    times: dict[str, Any] = {p: 0.0 for p in PHASES}
    times["spans"] = []  # (phase, unix start, unix end): to match RSS samples
    originals = {p: getattr(Pipeline, p) for p in PHASES}

    def wrap(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
            started, wall = time.monotonic(), time.time()
            try:
                return fn(self, *args, **kwargs)
            finally:
                times[name] += time.monotonic() - started
                times["spans"].append((name, wall, time.time()))

        return timed

    for name, fn in originals.items():
        setattr(Pipeline, name, wrap(name, fn))
    try:
        yield times
    finally:
        for name, fn in originals.items():
            setattr(Pipeline, name, fn)


def apply_patches(patches: list[str]) -> None:
    """Candidate product changes, tried here without editing the product (see BENCHMARKS.md)."""
    for patch in patches:
        if patch == "parallel-orgs":
            _patch_parallel_orgs()
        elif patch == "fast-cursor":
            _patch_fast_cursor()
        elif patch == "compiled-selector":
            _patch_compiled_selector()
        elif patch:
            raise ValueError(f"unknown patch `{patch}`")


def _patch_parallel_orgs() -> None:
    """builder._rest_entry: `parallelized: True` on the per-org REST resources of an incremental child."""
    from analytics_provider.dlt_source import builder

    original = builder._rest_entry

    def rest_entry(*args: Any, **kwargs: Any) -> dict[str, Any]:
        entry = original(*args, **kwargs)
        entry["parallelized"] = True
        return entry

    builder._rest_entry = rest_entry


def _patch_compiled_selector() -> None:
    """builder._rest_entry: hand dlt a compiled JSONPath as `data_selector`. dlt 1.31 compiles a
    string selector again for every page (`jsonpath_ng.ext.parse`, ~3-5 ms a page here)."""
    from dlt.common.jsonpath import compile_path

    from analytics_provider.dlt_source import builder

    original = builder._rest_entry

    def rest_entry(*args: Any, **kwargs: Any) -> dict[str, Any]:
        entry = original(*args, **kwargs)
        selector = entry["endpoint"].get("data_selector")
        if isinstance(selector, str):
            entry["endpoint"]["data_selector"] = compile_path(selector)
        return entry

    builder._rest_entry = rest_entry


def _patch_fast_cursor() -> None:
    """incremental.parse_cursor: `datetime.fromisoformat` (C, Python 3.11+) instead of `pendulum.parse`
    (the product has since taken it)."""
    from datetime import datetime

    from analytics_provider.dlt_source import incremental

    def parse_cursor(row: dict[str, Any], cursor: str) -> dict[str, Any]:
        value = row.get(cursor)
        if isinstance(value, str):
            try:
                row[cursor] = datetime.fromisoformat(value)
            except ValueError:
                import pendulum

                row[cursor] = pendulum.parse(value)
        return row

    incremental.parse_cursor = parse_cursor


def run_operator(base_url: str, orgs: list[str], start: str, end: str, db: str, file_format: str | None) -> dict:
    os.environ.update(_common.api_connection_env(base_url))
    os.environ["ANALYTICS_DUCKDB_PATH"] = db
    _common.allow_direct_execute()
    from analytics_provider.operators.load import AnalyticsLoadOperator
    from analytics_provider.testing.chain import task_context

    op = AnalyticsLoadOperator(
        task_id="pipelines",
        resource="pipelines",
        parent_keys=[{"org_slug": slug} for slug in orgs],
        start=start,
        end=end,
        loader_file_format=file_format,
    )
    summary = op.execute(task_context())
    import json

    return {
        "requests_client": summary.get("requests"),
        "rows_reported": summary.get("rows"),
        "xcom_bytes": len(json.dumps(summary, default=str)),
        "summary": summary,
    }


def plain_config(base_url: str, orgs: list[str]) -> dict[str, Any]:
    """The same endpoint, paginator, selector, keys and disposition, written as plain dlt config:
    one resource per org, like the operator's incremental-child shape."""
    return {
        "client": {
            "base_url": base_url,
            "headers": {"Accept": "application/json"},
            "auth": {"type": "api_key", "name": "api_key", "api_key": _common.API_KEY, "location": "header"},
            "paginator": {"type": "cursor", "cursor_path": "next_page_token", "cursor_param": "page-token"},
        },
        "resource_defaults": {"primary_key": "id", "write_disposition": "merge", "table_name": "pipelines"},
        "resources": [
            {
                "name": f"pipelines_{i}",
                "endpoint": {"path": "/v2/pipeline", "params": {"org-slug": slug}, "data_selector": "items"},
            }
            for i, slug in enumerate(orgs)
        ],
    }


def run_plain(base_url: str, orgs: list[str], db: str, file_format: str | None) -> dict:
    import tempfile

    import dlt
    from dlt.sources.rest_api import rest_api_source

    with tempfile.TemporaryDirectory(prefix="bench_plain_dlt_") as workdir:
        source = rest_api_source(plain_config(base_url, orgs), name="plain_pipelines")
        pipeline = dlt.pipeline(
            pipeline_name="plain_pipelines",
            destination=dlt.destinations.duckdb(db),
            dataset_name="analytics",
            pipelines_dir=workdir,
        )
        if file_format:
            pipeline.run(source, loader_file_format=file_format)
        else:
            pipeline.run(source)  # dlt's default for DuckDB: insert_values
    return {}


def count_rows(db: str) -> dict[str, int]:
    import duckdb

    with duckdb.connect(db, read_only=True) as con:
        tables = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'analytics' "
                "AND table_name NOT LIKE '_dlt%'"
            ).fetchall()
        ]
        return {t: con.execute(f'SELECT count(*) FROM analytics."{t}"').fetchone()[0] for t in tables}


def child_main(args: Any) -> dict[str, Any]:
    """Run one load (args from the parent script) and return the figures."""
    for pair in args.env or []:
        key, _, value = pair.partition("=")
        os.environ[key] = value
    # imports first, so that the timed part is the load itself (Airflow's task runner imports
    # Airflow before it calls execute(); dlt is imported inside the timed part by both variants'
    # first use, so pay it here for both)
    import dlt  # noqa: F401
    from dlt.sources.rest_api import rest_api_source  # noqa: F401

    import analytics_provider.operators.load  # noqa: F401

    apply_patches([p for p in (args.patch or "").split(",") if p])
    orgs = args.orgs.split(",")
    fmt = None if args.format in ("", "default") else args.format
    with phase_timer() as phases:
        started = time.monotonic()
        if args.child == "operator":
            extra = run_operator(args.base_url, orgs, args.start, args.end, args.db, fmt)
        else:
            extra = run_plain(args.base_url, orgs, args.db, fmt)
        seconds = time.monotonic() - started
    spans = phases.pop("spans")
    return {
        "variant": args.child,
        "seconds": seconds,
        "phases": dict(phases),
        "spans": spans,
        "rows": count_rows(args.db),
        **extra,
    }


def add_child_args(ap: Any) -> None:
    """The child's arguments (the scripts declare `--patch` and `--env` themselves)."""
    ap.add_argument("--child", choices=["operator", "plain"], help=argparse_suppress())
    ap.add_argument("--base-url", help=argparse_suppress())
    ap.add_argument("--orgs", help=argparse_suppress())
    ap.add_argument("--start", help=argparse_suppress())
    ap.add_argument("--end", help=argparse_suppress())
    ap.add_argument("--db", help=argparse_suppress())
    ap.add_argument("--format", default="", help=argparse_suppress())


def argparse_suppress() -> str:
    import argparse

    return argparse.SUPPRESS


def child_argv(
    script: str,
    variant: str,
    base_url: str,
    orgs: list[str],
    start: str,
    end: str,
    db: str,
    file_format: str = "",
    env: dict[str, str] | None = None,
    patch: str = "",
) -> list[str]:
    argv = [
        str(_common.BENCH_DIR / script),
        "--child",
        variant,
        "--base-url",
        base_url,
        "--orgs",
        ",".join(orgs),
        "--start",
        start,
        "--end",
        end,
        "--db",
        db,
        "--format",
        file_format,
        "--patch",
        patch,
    ]
    for key, value in (env or {}).items():
        argv += ["--env", f"{key}={value}"]
    return argv
