"""The first 30-day load under a real Airflow against plain dlt `parallelized`, in the same run
(issue 18): where a first load's seconds go, task by task.

A LocalExecutor Airflow (PostgreSQL metadata DB, the README's 4-slot `analytics_api` pool, core
parallelism 8) runs `analytics_pipelines` once per round with `start`/`end` covering the emulator's
whole history (`--days`, one account at scale 1), into a DuckDB file emptied before each round,
against an API with `--latency-ms` per request and no rate limit. Between the DAG's rounds, plain dlt
`rest_api_source` with `parallelized=True` children (bench/fanout.py's chain) loads the same data in
one process. The ratio of the medians is the figure.

The timeline of each DAG run: per task instance, seconds since the run's start at which it was
queued, started, logged `Loading` (set-up done: process, imports, the destination's state, the
keys), `Extracted` (every request made) and `Loaded`, and ended; the per-phase sums over the run;
and the requests served per second (the emulator's own count) as a line of 2-second buckets.

Run: `.venv/bin/python bench/first_load_airflow.py [--quick] [--rounds 3] [--days 30] [--no-plain]`
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import _common
import fanout

sys.path.insert(0, str(_common.ROOT))
from tests.airflow_stack import AirflowStack, local_stack

DAG_ID = "analytics_pipelines"
WARM_UP_DAG_ID = "analytics_users"
RUN_TIMEOUT = 1800.0
MARKS = {"Loading `": "loading", "Extracted `": "extracted", "Loaded `": "loaded"}
"""The operator's log lines that end a phase, and the phase's name in the timeline."""
PHASES = (
    ("queued", "started", "queue wait"),
    ("started", "loading", "set-up"),
    ("loading", "extracted", "extract"),
    ("extracted", "loaded", "normalize + load"),
    ("loaded", "ended", "wrap-up"),
)


def _ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def trigger(stack: AirflowStack, dag_id: str, conf: dict[str, Any]) -> tuple[str, dict[str, Any], float]:
    """One manual run of `dag_id` through the REST API, waited for: run id, final run, seconds taken."""
    run_id = f"bench_{uuid.uuid4().hex[:8]}"
    triggered = time.monotonic()
    stack.api("POST", f"dags/{dag_id}/dagRuns", json={"dag_run_id": run_id, "logical_date": None, "conf": conf})

    def finished() -> dict[str, Any] | None:
        run = stack.api("GET", f"dags/{dag_id}/dagRuns/{run_id}")
        return run if run["state"] in ("success", "failed") else None

    run = stack.wait_until(f"run {run_id}", finished, RUN_TIMEOUT, interval=0.5)
    return run_id, run, time.monotonic() - triggered


def log_marks(home: Path, run_id: str, ti: dict[str, Any]) -> dict[str, datetime]:
    """When the task instance's log says each phase ended (the first line of each kind)."""
    folder = home / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}" / f"task_id={ti['task_id']}"
    if ti.get("map_index", -1) >= 0:
        folder = folder / f"map_index={ti['map_index']}"
    marks: dict[str, datetime] = {}
    for path in sorted(folder.glob("attempt=*.log"))[-1:]:
        for line in path.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            event = str(entry.get("event", ""))
            for prefix, mark in MARKS.items():
                if event.startswith(prefix) and mark not in marks and entry.get("timestamp"):
                    marks[mark] = _ts(entry["timestamp"])  # type: ignore[assignment]
    return marks


def timeline(stack: AirflowStack, home: Path, run_id: str, run: dict[str, Any]) -> list[dict[str, Any]]:
    """Per task instance: seconds since the run's start of each point the phases run between."""
    start = _ts(run["start_date"])
    assert start is not None
    tis = stack.api("GET", f"dags/{DAG_ID}/dagRuns/{run_id}/taskInstances", params={"limit": 1000})["task_instances"]
    rows = []
    for ti in tis:
        points = {
            "queued": _ts(ti.get("queued_when")),
            "started": _ts(ti.get("start_date")),
            "ended": _ts(ti.get("end_date")),
            **log_marks(home, run_id, ti),
        }
        rows.append(
            {
                "task": ti["task_id"] + (f"[{ti['map_index']}]" if ti.get("map_index", -1) >= 0 else ""),
                "state": ti["state"],
                **{name: (at - start).total_seconds() for name, at in points.items() if at is not None},
            }
        )
    return sorted(rows, key=lambda r: r.get("started", 1e9))


def run_dag_round(stack: AirflowStack, emulator: Any, home: Path, duckdb: Path, window: tuple[str, str]) -> dict:
    for leftover in (duckdb, duckdb.with_name(duckdb.name + ".wal")):
        leftover.unlink(missing_ok=True)  # a first load: nothing in the warehouse
    time.sleep(2)
    emulator.reset_stats()
    run_id, run, since_trigger = trigger(stack, DAG_ID, {"start": window[0], "end": window[1]})
    stats = emulator.stats()
    started, ended = _ts(run["start_date"]), _ts(run["end_date"])
    assert started is not None and ended is not None
    tasks = timeline(stack, home, run_id, run)
    return {
        "state": run["state"],
        "wall_s": (ended - started).total_seconds(),
        "since_trigger_s": since_trigger,
        "requests": fanout.needed(stats),
        "failed": sum(1 for t in tasks if t["state"] == "failed"),
        "tasks": tasks,
        "served_per_s": [pair[0] for pair in stats.get("timeline", [])],
    }


def run_plain_round(emulator: Any) -> dict[str, Any]:
    time.sleep(2)
    with tempfile.TemporaryDirectory(prefix="bench_first_load_plain_") as tmp:
        plain = fanout.run_plain(emulator, str(Path(tmp) / "plain.duckdb"), parallel=True, tests=True)
    return {"wall_s": plain["wall_s"], "requests": fanout.needed(plain["stats"]), "rows": plain.get("rows", {})}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="3 days of history, 1 round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--latency-ms", type=float, default=20.0)
    ap.add_argument("--no-plain", action="store_true", help="skip plain dlt parallelized")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    days, rounds = (3, 1) if args.quick else (args.days, args.rounds)
    _common.header(f"First {days}-day load under a real Airflow against plain dlt parallelized", args.quick)
    from analytics_provider.testing.emulator import EmulatorConfig

    config = EmulatorConfig(
        port=0, seed=42, days=days, now=_common.EMULATOR_NOW, api_key=_common.API_KEY, latency_ms=args.latency_ms
    )
    home = Path(tempfile.mkdtemp(prefix="bench_first_load_"))
    settings = {"AIRFLOW__CORE__PARALLELISM": "8", "ANALYTICS_TASK_RETRIES": "0"}
    dags, plains = [], []
    with local_stack(
        home, config, settings, {DAG_ID, WARM_UP_DAG_ID}, unpause=(DAG_ID, WARM_UP_DAG_ID), pools={"analytics_api": 4}
    ) as (stack, emulator, duckdb):
        _common.warm_segments(emulator, days)
        trigger(stack, WARM_UP_DAG_ID, {})  # a deployed Airflow is warm: the first task pays a cold start
        window = _common.window_iso(days)
        for round_no in range(rounds):
            res = run_dag_round(stack, emulator, home, duckdb, window)
            _common.log(f"first_load_airflow: DAG round {round_no + 1}: {res['wall_s']:.1f}s, {res['requests']} req")
            dags.append(res)
            if not args.no_plain:
                plain = run_plain_round(emulator)
                _common.log(f"first_load_airflow: plain round {round_no + 1}: {plain['wall_s']:.1f}s")
                plains.append(plain)
    report(dags, plains, days, args.latency_ms)
    _common.write_json(args.json, {"dag": dags, "plain": plains, "days": days, "latency_ms": args.latency_ms})
    return 0 if all(r["state"] == "success" and not r["failed"] for r in dags) else 1


def phase_sums(tasks: list[dict[str, Any]]) -> dict[str, float]:
    """Task-seconds per phase over a run (a phase counts where both its ends are known)."""
    sums = {label: 0.0 for _a, _b, label in PHASES}
    for t in tasks:
        for a, b, label in PHASES:
            if a in t and b in t:
                sums[label] += t[b] - t[a]
    return sums


def report(dags: list[dict[str, Any]], plains: list[dict[str, Any]], days: int, latency_ms: float) -> None:
    out = _common.out
    out(
        f"Emulator: {days} days of one account (scale 1), {latency_ms:.0f} ms latency, no rate limit. Airflow: "
        "scheduler + LocalExecutor, PostgreSQL metadata DB, pool `analytics_api` of 4 slots, parallelism 8, "
        f"one manual run of `{DAG_ID}` over the whole history per round, into an emptied DuckDB file."
    )
    out()
    rows = [
        ["DAG", i + 1, r["state"], r["wall_s"], r["since_trigger_s"], r["requests"], r["failed"]]
        for i, r in enumerate(dags)
    ]
    rows += [
        ["plain dlt parallelized", i + 1, "success", r["wall_s"], "-", r["requests"], "-"] for i, r in enumerate(plains)
    ]
    out(_common.table(["variant", "round", "state", "run s", "s from trigger", "requests", "failed tasks"], rows))
    out()
    dag_median = _common.median(r["wall_s"] for r in dags)
    out(f"- DAG run, median of {len(dags)}: {dag_median:.1f} s ({_common.spread(r['wall_s'] for r in dags)})")
    if plains:
        plain_median = _common.median(r["wall_s"] for r in plains)
        out(
            f"- plain dlt parallelized, median of {len(plains)}: {plain_median:.1f} s "
            f"({_common.spread(r['wall_s'] for r in plains)})"
        )
        out(f"- **DAG / plain: {dag_median / plain_median:.2f}x** (target <= 0.5x)")
    out()
    sums = [phase_sums(r["tasks"]) for r in dags]
    out("Task-seconds per phase (median over the rounds):")
    out()
    out(
        _common.table(["phase", "task-seconds"], [[label, _common.median(s[label] for s in sums)] for label in sums[0]])
    )
    out()
    last = dags[-1]
    out(f"Timeline of the last round (seconds since the run's start; {last['wall_s']:.1f} s in all):")
    out()
    points = ("queued", "started", "loading", "extracted", "loaded", "ended")
    out(
        _common.table(
            ["task", "state", *points],
            [[t["task"], t["state"], *(t.get(p, "-") for p in points)] for t in last["tasks"]],
        )
    )
    out()
    served = last["served_per_s"]
    buckets = [sum(served[i : i + 2]) // 2 for i in range(0, len(served), 2)]
    out(f"Requests served per second, 2-second buckets: {' '.join(str(b) for b in buckets)}")


if __name__ == "__main__":
    raise SystemExit(main())
