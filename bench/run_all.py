"""Run every benchmark, one after the other, and print their figures (`make bench`).

`--quick` runs each in its short form (a smoke run, a few minutes). Each script's JSON lands in
`bench/results/<name>.json` and the printed report in `bench/results/latest.md` (ignored by git;
BENCHMARKS.md holds the figures worth keeping).

Run: `.venv/bin/python bench/run_all.py [--quick] [--only throughput,fanout,...]`
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import _common

BENCHMARKS = [
    "parse_time",
    "requests",
    "throughput",
    "fanout",
    "fanout_airflow",
    "memory",
    "duckdb_copy",
    "daily_airflow",
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="short smoke run of every benchmark")
    ap.add_argument("--only", default="", help="comma-separated benchmark names")
    args = ap.parse_args()
    names = [n for n in args.only.split(",") if n] or BENCHMARKS
    results_dir = _common.BENCH_DIR / "results"
    results_dir.mkdir(exist_ok=True)
    report = results_dir / "latest.md"
    started = time.monotonic()
    failed = []
    chunks = [f"# Benchmarks{' (quick)' if args.quick else ''}, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}\n"]
    for name in names:
        cmd = [sys.executable, str(_common.BENCH_DIR / f"{name}.py"), "--json", str(results_dir / f"{name}.json")]
        if args.quick:
            cmd.append("--quick")
        _common.log(f"run_all: {name}")
        t = time.monotonic()
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, cwd=_common.ROOT)
        _common.out(proc.stdout)
        chunks.append(proc.stdout)
        took = time.monotonic() - t
        _common.log(f"run_all: {name} finished in {took:.0f}s (exit {proc.returncode})")
        chunks.append(f"_{name}: {took:.0f} s_\n")
        if proc.returncode != 0:
            failed.append(name)
    total = time.monotonic() - started
    summary = f"All benchmarks took {total / 60:.1f} min; failed: {', '.join(failed) or 'none'}."
    _common.out(summary)
    chunks.append(summary + "\n")
    report.write_text("\n".join(chunks))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
