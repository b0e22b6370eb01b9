"""A daily scheduled run under a real Airflow: what one day of data plus the freshness re-reads
costs, per DAG, and where the seconds go (issue 18's daily-run figures).

A LocalExecutor Airflow (PostgreSQL metadata DB, the README's 4-slot `analytics_api` pool) over the
emulator (`--days` of history, `--latency-ms` per request, no rate limit). First a load: one run of
each DAG at the emulator's "now" (the window is the run's data interval, then the stored cursor).
Then `--rounds` daily rounds: the emulator moves on a day (new pipelines, running jobs finishing)
and each DAG gets one run at a logical date a day later, one DAG after the other, so each DAG's
requests and seconds are its own. Runs are API-triggered with a logical date, as the scheduler's
own runs are, since the emulator's clock is not the wall clock.

Per DAG and round: trigger to success, requests, task instances; per task: the wait from queued to
start and the run time. The run times of the tasks that make almost no request (one or two) are
the fixed cost of a task (process, imports, dlt pipeline set-up, destination state sync); the
report gives their median beside the DAG's figures.

Run: `.venv/bin/python bench/daily_airflow.py [--quick] [--rounds 3] [--days 7]`
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import _common

sys.path.insert(0, str(_common.ROOT))
from tests.airflow_stack import AirflowStack, iso, local_stack

DAGS = ("analytics_pipelines", "analytics_projects", "analytics_users")
TESTS_DAG = "analytics_tests"
"""Scheduled on the `job_tests` asset; triggered by hand after the others here (see `main`)."""
RUN_TIMEOUT = 1200.0


def _ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def run_once(stack: AirflowStack, emulator: Any, dag_id: str, logical: datetime) -> dict[str, Any]:
    emulator.reset_stats()
    triggered = time.monotonic()
    run = stack.api("POST", f"dags/{dag_id}/dagRuns", json={"logical_date": iso(logical)})
    run_id = run["dag_run_id"]

    def done() -> dict[str, Any] | None:
        got = stack.api("GET", f"dags/{dag_id}/dagRuns/{run_id}")
        return got if got["state"] in ("success", "failed") else None

    final = stack.wait_until(f"{dag_id} at {iso(logical)}", done, RUN_TIMEOUT, 0.5)
    wall = time.monotonic() - triggered
    return {"dag": dag_id, **_figures(stack, dag_id, run_id, final, wall, emulator.stats())}


def _figures(
    stack: AirflowStack, dag_id: str, run_id: str, run: dict[str, Any], wall: float, stats: dict[str, Any]
) -> dict[str, Any]:
    tis = stack.api("GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 1000})["task_instances"]
    tasks = []
    for t in tis:
        start, end, queued = _ts(t.get("start_date")), _ts(t.get("end_date")), _ts(t.get("queued_when"))
        if start is None or end is None:
            continue
        tasks.append(
            {
                "task": t["task_id"] + (f"[{t['map_index']}]" if t.get("map_index", -1) >= 0 else ""),
                "wait_s": (start - queued).total_seconds() if queued else float("nan"),
                "run_s": (end - start).total_seconds(),
                "state": t["state"],
            }
        )
    return {
        "state": run["state"],
        "trigger_to_end_s": wall,
        "requests": stats.get("total", 0),
        "task_instances": len(tasks),
        "task_seconds": sum(t["run_s"] for t in tasks),
        "tasks": tasks,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="3 days of history, 1 round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--latency-ms", type=float, default=20.0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    days, rounds = (3, 1) if args.quick else (args.days, args.rounds)
    _common.header(f"Daily run under a real Airflow ({days} days of history, {rounds} daily rounds)", args.quick)
    from analytics_provider.testing.emulator import EmulatorConfig

    now = datetime.fromisoformat(_common.EMULATOR_NOW.replace("Z", "+00:00")).astimezone(timezone.utc)
    config = EmulatorConfig(
        port=0, seed=42, days=days, now=_common.EMULATOR_NOW, api_key=_common.API_KEY, latency_ms=args.latency_ms
    )
    results: list[dict[str, Any]] = []
    home = Path(tempfile.mkdtemp(prefix="bench_daily_airflow_"))
    # Job scheduling stays off (tests/airflow_stack.py): the emulator's clock is not the wall clock,
    # and the scheduler would start runs of its own. That switch also keeps it from creating the
    # asset-triggered run of `analytics_tests`, so that DAG is triggered by hand after each round
    # (the same work; tests/e2e/test_asset_schedule.py covers the asset trigger itself).
    settings = {"AIRFLOW__CORE__PARALLELISM": "8", "ANALYTICS_TASK_RETRIES": "0"}
    with local_stack(
        home,
        config,
        settings,
        {*DAGS, TESTS_DAG},
        unpause=(*DAGS, TESTS_DAG),
        pools={"analytics_api": 4},
    ) as (stack, emulator, _duckdb):
        for round_no in range(rounds + 1):
            if round_no:
                emulator.control("POST", "advance", {"minutes": 24 * 60})
            logical = now + timedelta(days=round_no)
            label = "first load" if round_no == 0 else f"daily {round_no}"
            for dag_id in (*DAGS, TESTS_DAG):
                res = run_once(stack, emulator, dag_id, logical)
                _common.log(
                    f"daily_airflow: {label} {dag_id}: {res['trigger_to_end_s']:.1f}s, {res['requests']} requests"
                )
                results.append({"round": label, **res})
    report(results, days, args.latency_ms)
    _common.write_json(args.json, {"results": results, "days": days, "rounds": rounds})
    return 0 if all(r["state"] == "success" for r in results) else 1


def report(results: list[dict[str, Any]], days: int, latency_ms: float) -> None:
    out = _common.out
    out(
        f"Emulator: {days} days of history, {latency_ms:.0f} ms latency, no rate limit. Airflow: scheduler + "
        "LocalExecutor, PostgreSQL metadata DB, pool `analytics_api` of 4 slots, parallelism 8; each DAG run "
        "alone. 'fixed s' is the median run time of the fastest third of the DAG's successful tasks (those "
        "with almost no work): a task's cost before any data. Task run s counts successful tasks only."
    )
    out()
    rows = []
    for r in results:
        runs = sorted(t["run_s"] for t in r["tasks"] if t["state"] == "success")  # skipped ones did no work
        waits = [t["wait_s"] for t in r["tasks"] if t["wait_s"] == t["wait_s"]]
        small = runs[: max(1, len(runs) // 3)]
        rows.append(
            [
                r["round"],
                r["dag"],
                r["state"],
                r["trigger_to_end_s"],
                r["requests"] if r["requests"] else "-",
                r["task_instances"],
                r["task_seconds"],
                _common.median(small),
                _common.median(runs),
                _common.median(waits),
            ]
        )
    out(
        _common.table(
            [
                "round",
                "DAG",
                "state",
                "trigger to end s",
                "requests",
                "task instances",
                "task-seconds",
                "fixed s (fastest third, median)",
                "task run s (median)",
                "queued to start s (median)",
            ],
            rows,
        )
    )
    out()
    daily = [r for r in results if r["round"] != "first load"]
    for dag in dict.fromkeys(r["dag"] for r in daily):
        walls = [r["trigger_to_end_s"] for r in daily if r["dag"] == dag]
        median, spread = _common.median(walls), _common.spread(walls)
        out(f"- {dag}: daily trigger to end, median of {len(walls)}: {median:.1f} s ({spread})")


if __name__ == "__main__":
    raise SystemExit(main())
