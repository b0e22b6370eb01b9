"""DAG parse time: every DAG file of `dags/`, parsed the way Airflow 3.3's DAG processor does.

Each parse runs in a fresh process forked from one that has imported what the DAG processor has
imported before it reads a file (Airflow, the Task SDK, the processor module); it calls the
processor's own `_parse_file` (a `BundleDagBag` of that one file plus serialization of its DAGs)
and reports the seconds it took and its RSS before and after. Baseline: a trivial DAG file (one DAG, one
EmptyOperator) parsed the same way, interleaved with the real runs.

Run: `.venv/bin/python bench/parse_time.py [--quick] [--runs 10]`
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import _common

TRIVIAL_DAG = '''"""A trivial Airflow DAG: the parse-time baseline."""
from datetime import datetime

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

with DAG(dag_id="trivial", schedule=None, start_date=datetime(2026, 1, 1)):
    EmptyOperator(task_id="noop")
'''


def parse_folder(folder: str) -> dict[str, Any]:
    """Parse every DAG file of `folder` like the DAG processor does (in a forked process)."""
    import sys

    import psutil
    from airflow.dag_processing.processor import DagFileParseRequest, _parse_file
    from airflow.utils.file import list_py_file_paths

    try:
        import structlog

        log = structlog.get_logger("bench")
    except ImportError:  # pragma: no cover
        import logging

        log = logging.getLogger("bench")
    proc = psutil.Process()
    files = list_py_file_paths(folder, safe_mode=True)
    rss_before = proc.memory_info().rss
    started = time.perf_counter()
    dags, errors, per_file = 0, {}, {}
    for path in files:
        t = time.perf_counter()
        result = _parse_file(DagFileParseRequest(file=path, bundle_path=Path(folder), bundle_name="dags-folder"), log)
        per_file[Path(path).name] = time.perf_counter() - t
        if result is not None:
            dags += len(result.serialized_dags)
            errors.update(result.import_errors or {})
    seconds = time.perf_counter() - started
    rss_after = proc.memory_info().rss
    return {
        "seconds": seconds,
        "files": len(files),
        "per_file": per_file,
        "dags": dags,
        "import_errors": {k: str(v)[-500:] for k, v in errors.items()},
        "rss_before_mb": rss_before / 1e6,
        "rss_after_mb": rss_after / 1e6,
        "rss_delta_mb": (rss_after - rss_before) / 1e6,
        "dlt_imported": "dlt" in sys.modules,
        "requests_imported": "requests" in sys.modules,
    }


def child(folders: list[str], runs: int) -> dict[str, Any]:
    """Import what the DAG processor has imported, then fork one fresh process per parse (the
    processor starts one per file), alternating the folders; returns every parse's figures."""
    import json
    import os

    import airflow
    import airflow.dag_processing.processor
    import airflow.sdk  # noqa: F401

    results: dict[str, list[dict[str, Any]]] = {f: [] for f in folders}
    for i in range(runs):
        for folder in folders if i % 2 == 0 else list(reversed(folders)):
            read_fd, write_fd = os.pipe()
            pid = os.fork()
            if pid == 0:  # the parsing process
                os.close(read_fd)
                try:
                    payload = json.dumps(parse_folder(folder))
                except BaseException as exc:  # report, never fall back into the parent's loop
                    payload = json.dumps({"error": f"{type(exc).__name__}: {exc}"})
                with os.fdopen(write_fd, "w") as pipe:
                    pipe.write(payload)
                os._exit(0)
            os.close(write_fd)
            with os.fdopen(read_fd) as pipe:
                data = json.loads(pipe.read() or "{}")
            os.waitpid(pid, 0)
            if "error" in data:
                raise RuntimeError(f"parsing {folder} failed: {data['error']}")
            results[folder].append(data)
    return {"results": results}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="3 runs instead of 10")
    ap.add_argument("--runs", type=int, default=None, help="parses of each folder (default 10)")
    ap.add_argument("--dags", default=str(_common.ROOT / "dags"), help="the DAG folder to time")
    ap.add_argument("--json", default=None, help="write the figures here")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--child-runs", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _common.emit(child(args.child.split(","), args.child_runs))
        return 0

    runs = args.runs or (3 if args.quick else 10)
    _common.header("DAG parse time (DAG processor's `_parse_file`, fresh process each)", args.quick)
    baseline_dir = Path(tempfile.mkdtemp(prefix="bench_trivial_dags_"))
    (baseline_dir / "trivial_dag.py").write_text(TRIVIAL_DAG)
    folders = {"trivial DAG file (baseline)": str(baseline_dir), "generated DAGs (dags/)": args.dags}
    _common.log(f"parse_time: {runs} parses of each folder")
    raw = _common.run_child([__file__, "--child", ",".join(folders.values()), "--child-runs", str(runs)])
    results = {name: raw["results"][folder] for name, folder in folders.items()}
    report(results, runs, args)
    return 0


def report(results: dict[str, list[dict[str, Any]]], runs: int, args: Any) -> None:
    out = _common.out
    rows = []
    for name, rs in results.items():
        rows.append(
            [
                name,
                rs[0]["files"],
                rs[0]["dags"],
                len(rs[0]["import_errors"]),
                _common.median(r["seconds"] for r in rs),
                _common.spread(r["seconds"] for r in rs),
                _common.median(r["rss_before_mb"] for r in rs),
                _common.median(r["rss_delta_mb"] for r in rs),
                "yes" if any(r["dlt_imported"] for r in rs) else "no",
            ]
        )
    out(
        _common.table(
            [
                "DAG folder",
                "files",
                "DAGs",
                "import errors",
                f"parse s (median of {runs})",
                "range",
                "RSS before MB",
                "RSS added MB (median)",
                "dlt imported",
            ],
            rows,
        )
    )
    out()
    names = list(results)
    base, real = results[names[0]], results[names[1]]
    parse = _common.median(r["seconds"] for r in real)
    base_parse = _common.median(r["seconds"] for r in base)
    extra_mb = _common.median(r["rss_delta_mb"] for r in real) - _common.median(r["rss_delta_mb"] for r in base)
    out(
        f"Generated DAGs vs trivial file: {parse / base_parse:.1f}x the parse time (+{parse - base_parse:.3f} s), "
        f"+{extra_mb:.1f} MB RSS beyond the trivial file."
    )
    errors = real[0]["import_errors"]
    if errors:
        out(f"Import errors: {errors}")
    out(f"Target total parse < 1 s: {_common.verdict(parse, 1.0, higher_is_better=False)}")
    out()
    _common.write_json(args.json, {"results": results, "runs": runs})


if __name__ == "__main__":
    raise SystemExit(main())
