"""DuckDB jsonl load step: dlt's stock copy (`read_json` detecting types) against the typed copy
(duckdb_copy.py: the table's columns passed to `read_json`), interleaved in one run.

The data: `--rows` rows shaped like `projects` with its `branches` JSON map (keys differ per row,
ISO timestamps inside) plus ids, text and a timestamp column, extracted and normalized once per
round; only `pipeline.load()` into a fresh DuckDB file is timed. It also counts the rows whose
JSON column no longer equals what was sent: the correctness side of the change.

Run: `.venv/bin/python bench/duckdb_copy.py [--quick] [--rounds 5] [--rows 50000]`
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import _common


def rows(n: int) -> list[dict[str, Any]]:
    rng = random.Random(7)
    branches = [f"feature/{i}" for i in range(40)]
    out = []
    for i in range(n):
        chosen = rng.sample(branches, rng.randint(1, 4))
        out.append(
            {
                "id": i,
                "name": f"repo-{i}",
                "created_at": f"2026-11-{1 + i % 28:02d}T{i % 24:02d}:00:00.000Z",
                "branches": {
                    b: {"pushed_at": f"2026-11-{1 + (i + k) % 28:02d}T12:59:00.000Z", "build_num": i + k}
                    for k, b in enumerate(chosen)
                },
            }
        )
    return out


def load_once(variant: str, data: list[dict[str, Any]]) -> dict[str, Any]:
    import dlt
    import duckdb
    from dlt.destinations.impl.duckdb import duck

    from analytics_provider.warehouse import duckdb_copy

    stock = getattr(duck.DuckDbCopyJob, "__mro__", [duck.DuckDbCopyJob])
    original = next(c for c in stock if not getattr(c, "typed_columns", False) and c.__name__ == "DuckDbCopyJob")
    duck.DuckDbCopyJob = duckdb_copy._typed_copy_job(original) if variant == "typed" else original
    with tempfile.TemporaryDirectory() as workdir:
        path = Path(workdir) / "warehouse.duckdb"
        resource = dlt.resource(
            data,
            name="projects",
            primary_key="id",
            write_disposition="merge",
            columns={"branches": {"data_type": "json"}},
        )
        pipeline = dlt.pipeline(
            "duckdb_copy_bench",
            destination=dlt.destinations.duckdb(str(path)),
            dataset_name="analytics",
            pipelines_dir=workdir,
        )
        pipeline.extract(resource, loader_file_format="jsonl")
        pipeline.normalize()
        started = time.perf_counter()
        pipeline.load()
        seconds = time.perf_counter() - started
        with duckdb.connect(str(path), read_only=True) as con:
            loaded = dict(con.execute("SELECT id, branches FROM analytics.projects").fetchall())
    wrong = sum(1 for r in data if json.loads(loaded[r["id"]]) != r["branches"])
    duck.DuckDbCopyJob = original
    return {"seconds": seconds, "wrong_json_rows": wrong}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    n, rounds = (5_000, 3) if args.quick else (args.rows, args.rounds)
    _common.header(f"DuckDB jsonl load: stock vs typed copy, {n:,} rows", args.quick)
    data = rows(n)
    results = _common.interleave(["stock", "typed"], rounds, lambda v, r: load_once(v, data))
    stock = _common.median(r["seconds"] for r in results["stock"])
    typed = _common.median(r["seconds"] for r in results["typed"])
    _common.out(
        _common.table(
            ["copy", "load s (median)", "spread", "rows whose JSON differs from what was sent"],
            [
                (
                    v,
                    _common.median(r["seconds"] for r in results[v]),
                    _common.spread(r["seconds"] for r in results[v]),
                    max(r["wrong_json_rows"] for r in results[v]),
                )
                for v in ("stock", "typed")
            ],
        )
    )
    _common.out(f"\ntyped / stock load time: {typed / stock:.2f}x (median of {rounds} interleaved rounds)")
    _common.write_json(args.json, {"rows": n, "rounds": rounds, "results": results, "ratio": typed / stock})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
