"""Does progress logging slow a load? `pipelines` over the emulator's history, three variants
interleaved: `off` (Progress.note does nothing), `default` (a line every 30 s: only the counting),
`every` (ANALYTICS_PROGRESS_SECONDS=0: a line per request). Medians of the load's wall time and
their ratio to `off`.

    .venv/bin/python bench/progress.py [--days 10] [--scale 6] [--rounds 3]
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import _common  # first: sys.path and environment
from _common import allow_direct_execute, api_connection_env, header, interleave, median, out, spawn, spread, table

VARIANTS = ("off", "default", "every")


def run(variant: str, _round: int, days: int) -> dict[str, Any]:
    from analytics_provider.dlt_source import progress
    from analytics_provider.operators.load import AnalyticsLoadOperator
    from analytics_provider.testing.chain import task_context

    original = progress.Progress.note
    if variant == "off":
        progress.Progress.note = lambda self, status, rows=0: None  # type: ignore[method-assign]
    os.environ["ANALYTICS_PROGRESS_SECONDS"] = "0" if variant == "every" else "30"
    start, end = _common.window_iso(days)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["ANALYTICS_DUCKDB_PATH"] = str(Path(tmp) / "w.duckdb")
        started = time.monotonic()
        try:
            summary = AnalyticsLoadOperator(task_id="pipelines", resource="pipelines", start=start, end=end).execute(
                task_context()
            )
        finally:
            progress.Progress.note = original  # type: ignore[method-assign]
        return {"s": time.monotonic() - started, "requests": summary["requests"], "rows": summary["rows"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--scale", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    header("progress logging", quick=False)
    logging.getLogger("analytics_provider.dlt_source.progress").setLevel(logging.INFO)
    emulator = spawn(args.scale, args.days)
    try:
        os.environ.update(api_connection_env(emulator.base_url))
        allow_direct_execute()
        _common.warm_segments(emulator, args.days)
        run("off", -1, args.days)  # warm-up: imports, first source build
        results = interleave(VARIANTS, args.rounds, lambda v, r: run(v, r, args.days))
    finally:
        emulator.stop()
    base = median(r["s"] for r in results["off"])
    rows = []
    for v in VARIANTS:
        times = [r["s"] for r in results[v]]
        ratio = f"{median(times) / base:.3f}"
        rows.append([v, results[v][0]["requests"], f"{median(times):.2f}", spread(times), ratio])
    out(table(["variant", "requests", "median s", "spread", "ratio to off"], rows))


if __name__ == "__main__":
    main()
