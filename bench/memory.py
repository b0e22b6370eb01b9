"""Peak memory of the task process loading one large resource (`pipelines`) through the operator.

Each load runs in a fresh process (like an Airflow task); its RSS, summed over the process and
any children it starts, is sampled every 50 ms with psutil, alongside the kernel's `ru_maxrss`.
dlt's pipeline steps are timed too, so each sample can be attributed to a step.

By default it loads the real thing: one load of ~1,100,000 target rows (1,040,433 pipelines;
~7 minutes here, 2.5 of them the emulator building its data, which takes ~6 GB). A ladder of
sizes (`--rows 30000 60000 120000`, windows of more or fewer days from one emulator) is fitted
to peak RSS = a + b * rows (least squares) and extrapolated to 1,000,000 rows. Extrapolation
overstates the peak: DuckDB's share stops at its memory limit. So only a measured load of
1,000,000 rows or more, or a smaller one already over the target, decides the verdict.

Then the task that follows that load in the DAG, `plan_pipeline_workflows` (`--plan-runs`, 3 by
default), on the largest load's DuckDB file: its peak RSS and time, each run a fresh process
(bench/_plan_task.py). With `--plan-ref REV` the plan task of commit REV runs too, interleaved,
on the same file: an A/B of the plan task in one run.

Run: `.venv/bin/python bench/memory.py [--quick] [--rows N ...] [--patch NAME] [--plan-runs N]
[--plan-ref REV]`
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import _common
import _loads

DAYS = 30
PIPELINES_PER_SCALE_DAY = 33.0
"""Pipelines a day at scale 1 over both orgs, weekends and quiet days included (measured)."""
TARGET_MB = 500.0
TARGET_ROWS = 1_000_000


def phase_peaks(result: dict[str, Any]) -> dict[str, float]:
    """Peak RSS (MB) seen while each dlt step ran, and before the first."""
    peaks: dict[str, float] = {}
    spans = result.get("spans") or []
    first = min((s[1] for s in spans), default=float("inf"))
    for t, mb in result.get("rss_series") or []:
        phase = "start-up" if t < first else None
        for name, start, end in spans:
            if start <= t <= end:
                phase = name
        phase = phase or "other"
        peaks[phase] = max(peaks.get(phase, 0.0), mb)
    return peaks


def fit(points: list[tuple[float, float]]) -> tuple[float, float]:
    n = len(points)
    if n < 2:
        return points[0][1] if points else float("nan"), 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    b = sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else 0.0
    return my - b * mx, b


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="one small load")
    ap.add_argument("--rows", type=int, nargs="*", default=None, help="target rows per load (default 1,100,000)")
    ap.add_argument("--patch", default="", help="candidate product change(s) to apply in the child (see _loads.py)")
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE set in the loading process (dlt config)")
    ap.add_argument("--plan-runs", type=int, default=None, help="runs of the plan task after the load (default 3)")
    ap.add_argument("--plan-ref", default=None, help="also run the plan task of this git ref (an A/B)")
    ap.add_argument("--json", default=None, help="write the figures here")
    _loads.add_child_args(ap)
    ap.add_argument("--plan-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--plugins", default="", help=argparse.SUPPRESS)
    ap.add_argument("--summary", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _common.emit(_loads.child_main(args))
        return 0
    if args.plan_child:
        import _plan_task

        summary = json.loads(Path(args.summary).read_text(encoding="utf-8"))
        _common.emit(_plan_task.run_plan(args.plugins or None, summary))
        return 0

    sizes = sorted(args.rows or ([5_000] if args.quick else [1_100_000]))
    _common.header("Memory: peak RSS of the task process loading `pipelines`", args.quick)
    largest = sizes[-1]
    days = DAYS
    scale = max(1.0, round(largest / (PIPELINES_PER_SCALE_DAY * days) * 1.1, 1))
    emu = _common.spawn(scale=scale, days=days)
    tmp = Path(tempfile.mkdtemp(prefix="bench_memory_"))
    results: list[dict[str, Any]] = []
    plans: list[dict[str, Any]] = []
    try:
        _common.log(f"memory: emulator scale {scale}, {days} days; building its data")
        _common.warm_segments(emu, days)
        orgs = [r["slug"] for r in emu.truth("self_collaborations")]
        bounds = _common.day_bounds(days)
        for i, target in enumerate(sizes):
            # the window: the newest k days hold about `target` pipelines
            k = max(1, min(days, round(days * target / (scale * PIPELINES_PER_SCALE_DAY * days))))
            start, end = bounds[days - k][0], _common.EMULATOR_NOW
            env = dict(pair.split("=", 1) for pair in args.env)
            argv = _loads.child_argv(
                "memory.py", "operator", emu.base_url, orgs, start, end, str(tmp / f"m{i}.duckdb"), "", env, args.patch
            )
            _common.log(f"memory: loading about {target:,} rows ({k} days)")
            res = _common.run_child(argv, series=True)
            res["target"] = target
            res["days"] = k
            res["phase_peaks"] = phase_peaks(res)
            res.pop("rss_series", None)
            results.append(res)
            _common.log(
                f"  {res['rows'].get('pipelines', 0):,} rows in {res['seconds']:.0f}s, peak {res['peak_rss_mb']:.0f} MB"
            )
    finally:
        emu.stop()
    runs = args.plan_runs if args.plan_runs is not None else (1 if args.quick else 3)
    if runs and results:
        plans = run_plans(results[-1], tmp / f"m{len(results) - 1}.duckdb", runs, args.plan_ref)
    fit = report(results, args)
    report_plans(plans, args.plan_ref)
    _common.write_json(args.json, {"results": results, "fit": fit, "plans": plans})
    return 0


def run_plans(load: dict[str, Any], db: Path, runs: int, ref: str | None) -> list[dict[str, Any]]:
    """The plan task on the load's DuckDB file, `runs` times per variant, interleaved."""
    summary_file = db.with_suffix(".summary.json")
    summary_file.write_text(json.dumps(load["summary"], default=str), encoding="utf-8")
    plans = []
    with _common.worktree(ref) as tree:
        variants = [("this commit", "")] + ([(ref, str(tree / "plugins"))] if tree else [])
        for r in range(runs):
            for label, plugins in variants if r % 2 == 0 else variants[::-1]:
                argv = [str(_common.BENCH_DIR / "memory.py"), "--plan-child", "--summary", str(summary_file)]
                argv += ["--plugins", plugins] if plugins else []
                _common.log(f"memory: plan task, {label}, run {r + 1}/{runs}")
                res = _common.run_child(argv, env={"ANALYTICS_DUCKDB_PATH": str(db)})
                res["variant"] = label
                plans.append(res)
                _common.log(
                    f"  {res['keys']:,} keys, {res['batches']} batches, {res['seconds']:.1f}s, "
                    f"peak {res['peak_rss_mb']:.0f} MB"
                )
    return plans


def report(results: list[dict[str, Any]], args: Any) -> dict[str, float]:
    out = _common.out
    phases = ["start-up", "sync_destination", "extract", "normalize", "load", "other"]
    rows = []
    for r in results:
        pk = r["phase_peaks"]
        rows.append(
            [
                r["rows"].get("pipelines", 0),
                sum(r["rows"].values()),
                r["seconds"],
                r["peak_rss_mb"],
                r["ru_maxrss_mb"],
                *[pk.get(p, float("nan")) for p in phases],
            ]
        )
    out(
        _common.table(
            [
                "pipelines rows",
                "rows, all tables",
                "load s",
                "peak RSS MB",
                "ru_maxrss MB",
                *[f"peak in {p}" for p in phases],
            ],
            rows,
        )
    )
    out()
    points = sorted((float(r["rows"].get("pipelines", 0)), r["peak_rss_mb"]) for r in results)
    a, b = fit(points)
    projected = a + b * TARGET_ROWS
    over = [p for p in points if p[1] >= TARGET_MB]
    if len(points) >= 2:
        out(
            f"Least-squares fit: peak RSS = {a:.0f} MB + {b * 1000:.2f} MB per 1,000 rows; "
            f"projected for {TARGET_ROWS:,} rows: {projected:,.0f} MB."
        )
        per_phase = {}
        for phase in ("extract", "normalize", "load"):
            pts = [(float(r["rows"].get("pipelines", 0)), r["phase_peaks"].get(phase, 0.0)) for r in results]
            pa, pb = fit(pts)
            per_phase[phase] = (pa, pb)
        out(
            "Growth by step (MB per 1,000 rows): "
            + ", ".join(
                f"{p} {pb * 1000:.2f} (projected {pa + pb * TARGET_ROWS:,.0f} MB)" for p, (pa, pb) in per_phase.items()
            )
        )
        basis = "projected"
        value = projected
    else:
        value, basis = float("nan"), ""
    if len(points) >= 2:
        (x1, y1), (x2, y2) = points[-2], points[-1]
        marginal = (y2 - y1) / (x2 - x1) if x2 > x1 else 0.0
        out(
            f"Slope between the two largest loads: {marginal * 1000:.2f} MB per 1,000 rows; from the largest load "
            f"that projects {y2 + marginal * (TARGET_ROWS - x2):,.0f} MB for {TARGET_ROWS:,} rows. Peak RSS does not "
            "grow linearly (DuckDB's buffers come in steps): read both projections as rough."
        )
    if over:
        # more rows never need less memory: one load over the target decides
        value = over[0][1]
        basis = f"measured: already {over[0][1]:.0f} MB at {int(over[0][0]):,} rows"
    if any(p[0] >= TARGET_ROWS for p in points):
        value = max(r["peak_rss_mb"] for r in results if r["rows"].get("pipelines", 0) >= TARGET_ROWS)
        basis = "measured"
    if basis == "projected":
        out(
            f"Target peak < {TARGET_MB:.0f} MB at 1,000,000 rows: not assessed (projected {value:,.0f} MB; a "
            "projection overstates it, run the default 1.1M-row load for the verdict)"
        )
    elif value == value:
        out(f"Target peak < {TARGET_MB:.0f} MB at 1,000,000 rows ({basis}): {_common.verdict(value, TARGET_MB, False)}")
    else:
        out(f"Target peak < {TARGET_MB:.0f} MB at 1,000,000 rows: not assessed (one size only; run without --quick)")
    out()
    return {"a_mb": a, "b_mb_per_row": b, "projected_mb": projected}


def report_plans(plans: list[dict[str, Any]], ref: str | None) -> None:
    if not plans:
        return
    out = _common.out
    variants = list(dict.fromkeys(p["variant"] for p in plans))
    rows = []
    for variant in variants:
        runs = [p for p in plans if p["variant"] == variant]
        rows.append(
            [
                variant,
                len(runs),
                runs[0]["keys"],
                runs[0]["batches"],
                _common.median(p["peak_rss_mb"] for p in runs),
                _common.spread(p["peak_rss_mb"] for p in runs),
                _common.median(p["seconds"] for p in runs),
                runs[0]["pushed_mb"],
            ]
        )
    out("`plan_pipeline_workflows` on the largest load's DuckDB file (a fresh process a run):")
    out()
    out(
        _common.table(
            ["plan task of", "runs", "keys", "batches", "peak RSS MB", "range", "s (median)", "batches pushed MB"],
            rows,
        )
    )
    if ref and len(rows) == 2:
        out()
        out(f"Peak RSS, this commit / {ref}: {rows[0][4] / rows[1][4]:.2f}; time: {rows[0][6] / rows[1][6]:.2f}")
    out()


if __name__ == "__main__":
    raise SystemExit(main())
