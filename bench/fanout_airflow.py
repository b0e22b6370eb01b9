"""Fan-out under a real Airflow: the generated `analytics_pipelines` DAG run by `airflow scheduler`
(LocalExecutor, PostgreSQL metadata database, the README's 4-slot `analytics_api` pool) on the day
`bench/fanout.py` uses (>= 500 pipelines, emulator at 50 ms latency and 50 requests/s).

`bench/fanout.py` runs the DAG's tasks with its own executor and leaves scheduler latency out;
this one measures the run as Airflow schedules it, scheduler latency and task start-up included
(after one warm-up run of `analytics_users`: the first task after a start pays ~6 s more).
With `--ref <git ref>` it also runs the DAG of another commit (a git worktree, its `plugins/`
first on PYTHONPATH, its `dags/` as the DAG folder) on the same emulator: an A/B of two DAG shapes
under the same scheduler. Plain dlt `parallelized` is run once on the same day for reference.

The DAG loads more than `bench/fanout.py`'s chain (`context`, and `workflow` for workflows not
finished when listed), so each variant's bound is its own requests (not 429) / rate limit.

Run: `.venv/bin/python bench/fanout_airflow.py [--quick] [--pipelines 500] [--ref c1f654e] [--no-plain]`
"""

from __future__ import annotations

import argparse
import contextlib
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
from tests.airflow_stack import AirflowStack, airflow_env, free_port, temporary_database

DAG_ID = "analytics_pipelines"
WARM_UP_DAG_ID = "analytics_users"
"""Run once before the measured run (2 small tasks), so that no measured task pays a cold start."""
POOL_SLOTS = 4
RUN_TIMEOUT = 900.0


def run_dag(emulator: Any, window: tuple[str, str], tree: Path, label: str) -> dict[str, Any]:
    """Start an Airflow for `tree`'s DAGs, run one manual window of the DAG, stop it."""
    home = Path(tempfile.mkdtemp(prefix=f"bench_airflow_{label}_"))
    database = f"bench_airflow_{uuid.uuid4().hex[:10]}"
    port = free_port()
    settings = {
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "8",
        "AIRFLOW__CORE__DAGS_FOLDER": str(tree / "dags"),
        "ANALYTICS_DUCKDB_PATH": str(home / "warehouse.duckdb"),
    }
    if tree != _common.ROOT:
        settings["PYTHONPATH"] = str(tree / "plugins")
    with contextlib.ExitStack() as cleanup:
        cleanup.enter_context(temporary_database(database))
        env = airflow_env(
            home=home,
            database=database,
            port=port,
            emulator_url=emulator.base_url,
            api_key=_common.API_KEY,
            settings=settings,
        )
        stack = AirflowStack(home=home, env=env, port=port)
        cleanup.callback(stack.stop, 30.0)
        stack.cli("db", "migrate", timeout=300)
        stack.cli("pools", "set", "analytics_api", str(POOL_SLOTS), "analytics")
        stack.start_core()
        stack.wait_for_api_server(180)
        stack.wait_until("DAG parsed", lambda: stack.api("GET", "dags", params={"dag_id_pattern": DAG_ID})["dags"], 180)
        # a deployed Airflow is warm: the first task after a start waits ~6 s before it runs
        _run(stack, WARM_UP_DAG_ID, {}, RUN_TIMEOUT)
        time.sleep(2)  # let the token bucket refill
        emulator.reset_stats()
        triggered = time.monotonic()
        run_id, run = _run(stack, DAG_ID, {"start": window[0], "end": window[1]}, RUN_TIMEOUT)
        since_trigger = time.monotonic() - triggered
        stats = emulator.stats()
        tis = stack.api("GET", f"dags/{DAG_ID}/dagRuns/{run_id}/taskInstances", params={"limit": 1000})[
            "task_instances"
        ]
    started, ended = _ts(run["start_date"]), _ts(run["end_date"])
    made = fanout.needed(stats)
    return {
        "variant": label,
        "state": run["state"],
        "wall_s": (ended - started).total_seconds(),
        "since_trigger_s": since_trigger,
        "made": made,
        "refused": stats.get("by_status", {}).get("429", 0),
        "bound_s": made / fanout.RATE_LIMIT,
        "task_instances": len(tis),
        "failed": sum(1 for t in tis if t["state"] == "failed"),
        "retried": sum(1 for t in tis if (t.get("try_number") or 0) > 1),
        "tasks": _spans(tis, started),
    }


def _run(stack: AirflowStack, dag_id: str, conf: dict[str, Any], timeout: float) -> tuple[str, dict[str, Any]]:
    """Trigger one manual run of `dag_id` and wait for its end; its run id and final state."""
    stack.cli("dags", "unpause", dag_id)
    run_id = f"bench_{uuid.uuid4().hex[:8]}"
    stack.cli("dags", "trigger", dag_id, "--run-id", run_id, "--conf", json.dumps(conf))

    def finished() -> dict[str, Any] | None:
        run = stack.api("GET", f"dags/{dag_id}/dagRuns/{run_id}")
        return run if run["state"] in ("success", "failed") else None

    return run_id, stack.wait_until(f"run {run_id}", finished, timeout, interval=0.5)


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _spans(tis: list[dict[str, Any]], run_start: datetime) -> dict[str, dict[str, Any]]:
    """Per task id: instances, and the first start and last end in seconds since the run's start."""
    spans: dict[str, dict[str, Any]] = {}
    for t in tis:
        if not t.get("start_date") or not t.get("end_date"):
            continue
        span = spans.setdefault(t["task_id"], {"instances": 0, "first_start": 1e9, "last_end": 0.0})
        span["instances"] += 1
        span["first_start"] = min(span["first_start"], (_ts(t["start_date"]) - run_start).total_seconds())
        span["last_end"] = max(span["last_end"], (_ts(t["end_date"]) - run_start).total_seconds())
    return dict(sorted(spans.items(), key=lambda item: item[1]["first_start"]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pipelines", type=int, default=500, help="minimum pipelines in the day (default 500)")
    ap.add_argument("--ref", default=None, help="also run the DAG of this git ref (an A/B of DAG shapes)")
    ap.add_argument("--no-plain", action="store_true", help="skip plain dlt parallelized")
    ap.add_argument("--json", default=None, help="write the figures here")
    ap.add_argument("--quick", action="store_true", help="a small day (30 pipelines)")
    args = ap.parse_args()
    if args.quick:
        args.pipelines = 30
    _common.header("Fan-out under a real Airflow scheduler", args.quick)
    emu, scale, count = fanout.spawn_day(args.pipelines)
    results = []
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(emu.stop)
        trees = [("current", _common.ROOT)]
        if args.ref:
            trees.append((args.ref, cleanup.enter_context(_common.worktree(args.ref))))
        window = _common.window_iso(1)
        for label, tree in trees:
            _common.log(f"fanout_airflow: {label}")
            res = run_dag(emu, window, tree, label)
            _common.log(
                f"  {label}: {res['wall_s']:.1f}s, {res['made']} requests, {res['wall_s'] / res['bound_s']:.2f}x bound"
            )
            results.append(res)
        if not args.no_plain:
            time.sleep(2)
            with tempfile.TemporaryDirectory(prefix="bench_fanout_airflow_plain_") as tmp:
                plain = fanout.run_plain(emu, str(Path(tmp) / "plain.duckdb"), parallel=True)
            made = fanout.needed(plain["stats"])
            results.append(
                {
                    "variant": "plain dlt parallelized (chain only)",
                    "state": "success",
                    "wall_s": plain["wall_s"],
                    "made": made,
                    "refused": plain["stats"]["by_status"].get("429", 0),
                    "bound_s": made / fanout.RATE_LIMIT,
                }
            )
    report(results, scale, count)
    _common.write_json(args.json, {"results": results, "scale": scale, "pipelines": count})
    return 0 if all(r["state"] == "success" for r in results) else 1


def report(results: list[dict[str, Any]], scale: float, count: int) -> None:
    out = _common.out
    out(
        f"Emulator: {fanout.LATENCY_MS:.0f} ms latency, {fanout.RATE_LIMIT:.0f} requests/s, one day (scale {scale}) "
        f"with {count} pipelines. Airflow: scheduler + LocalExecutor, PostgreSQL metadata DB, pool "
        f"`analytics_api` of {POOL_SLOTS} slots, one manual run of `{DAG_ID}` over the day. One run each: "
        "single absolute times."
    )
    out()
    rows = [
        [
            r["variant"],
            r["state"],
            r["wall_s"],
            r.get("since_trigger_s", float("nan")),
            r["made"],
            r["refused"],
            r["bound_s"],
            r["wall_s"] / r["bound_s"],
            r.get("task_instances", "-"),
            f"{r['failed']} / {r['retried']}" if "failed" in r else "-",
        ]
        for r in results
    ]
    out(
        _common.table(
            [
                "variant",
                "state",
                "run s (start to end)",
                "s from trigger",
                "requests (not 429)",
                "429s",
                "bound s",
                "run / bound",
                "task instances",
                "failed / retried",
            ],
            rows,
        )
    )
    out()
    for r in results:
        if "tasks" not in r:
            continue
        out(f"{r['variant']}, per task id (seconds since the run's start):")
        out()
        out(
            _common.table(
                ["task", "instances", "first starts s", "last ends s"],
                [[name, s["instances"], s["first_start"], s["last_end"]] for name, s in r["tasks"].items()],
            )
        )
        out()


if __name__ == "__main__":
    raise SystemExit(main())
