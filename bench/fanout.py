"""Fan-out benchmark: one day of >= 500 pipelines with their workflows, job lists and job details,
from an emulator with 50 ms latency and a 50 requests/second rate limit.

Operator: the chain `self_collaborations -> pipelines -> pipeline_workflows -> workflow_jobs -> jobs`
run the way the generated `analytics_pipelines` DAG runs it (`ChainRun`, built from the DAG factory's
own plan): one task per root (`pipelines` is one: it reads the orgs from the API itself), a
`plan_pipeline_workflows` task (a forked process reading the keys from the DuckDB file; 200
pipelines a batch, the shipped spec), then one instance of the mapped task group per batch, in
which `workflow_jobs[i]` starts as soon as `pipeline_workflows[i]` has loaded and `jobs[i]` as soon
as `workflow_jobs[i]` has. Load tasks run in a pool of N slots (the README's `analytics_api` pool
has 4), highest priority weight first (Airflow's default rule), each task instance a fresh process
forked from a parent that has imported Airflow and the operator module but not dlt, like Airflow
3's LocalExecutor forks a task process from its worker. Scheduler latency between tasks is not
included. Failed tasks are counted and queued again at once (Airflow: `retries=2` after
`retry_delay`).

Plain dlt: the same four levels as one `rest_api_source` with child resources
(`{resources.<parent>.<field>}`), sequential and with `parallelized=True`, in one fresh process.

Bound = requests the chain needs at least (from the emulator's truth: collaborations, pipeline
pages, one workflow list per pipeline, one job list per workflow, one detail per job fetched) /
rate limit. Requests a failed task made before it was retried are not "needed".

`--plan-in-parent` is an experiment, not the DAG: the fan-out parent's task cuts its child's
batches itself, after its load, in its own process (what folding `plan_<child>` into the parent's
task would do; BENCHMARKS.md, session 6).

Run: `.venv/bin/python bench/fanout.py [--quick] [--slots 4] [--rounds 2] [--plain-rounds 1]
[--sequential-rounds 1] [--batch-size N] [--max-retries N] [--env KEY=VALUE] [--no-plain] [--no-limit-counts]
[--plan-in-parent]`
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import queue
import tempfile
import time
from pathlib import Path
from typing import Any

import _common

LATENCY_MS = 50.0
RATE_LIMIT = 50.0
CHAIN = ["self_collaborations", "pipelines", "pipeline_workflows", "workflow_jobs", "jobs"]
_STEPS = ("sync_destination", "extract", "normalize", "load")


# -- the operator, the DAG's way ------------------------------------------------------------------
def _task(args: tuple[str, dict[str, Any], dict[str, Any], tuple[str, int, int] | None]) -> dict[str, Any]:
    """One task instance (runs in a forked process). `source` is `parent_keys` or `parent_output`.
    `plan` (`--plan-in-parent`): the fan-out child, batch size and slots whose batches this task cuts
    after its load, in its own process, instead of a plan task."""
    resource, source, context_args, plan = args
    began = time.monotonic()  # CLOCK_MONOTONIC: comparable across the forked processes
    os.dup2(2, 1)  # the task's log lines go to stderr: stdout carries the report
    spec_path = context_args.get("spec_path")
    os.environ.update(context_args.get("env") or {})
    from datetime import datetime

    from airflow.sdk.exceptions import AirflowSkipException

    from analytics_provider.operators.load import AnalyticsLoadOperator
    from analytics_provider.testing.chain import task_context

    context = task_context(
        datetime.fromisoformat(context_args["start"]), datetime.fromisoformat(context_args["end"]), "scheduled"
    )
    import _loads

    _common.allow_direct_execute()
    started = time.monotonic()
    # the task imports dlt in execute(); do it here to time it apart from the steps
    import dlt  # noqa: F401
    from dlt.sources.rest_api import rest_api_source  # noqa: F401

    imported = time.monotonic() - started
    try:
        with _loads.phase_timer() as phases:
            op = AnalyticsLoadOperator(task_id=resource, resource=resource, spec_path=spec_path, **source)
            summary: dict[str, Any] | None = op.execute(context)
        result: dict[str, Any] = {"ok": True, "summary": summary}
        if plan is not None and summary is not None:
            from analytics_provider.fanout.batching import plan_batches

            result["batches"] = plan_batches(
                [summary], child=plan[0], batch_size=plan[1], min_batches=plan[2], spec_path=spec_path
            )
        seconds = time.monotonic() - started
        steps = {p: phases[p] for p in _loads.PHASES}
        steps["import"] = imported
        steps["other"] = seconds - sum(steps.values())
        return {**result, "seconds": seconds, "steps": steps, "span": (began, time.monotonic())}
    except AirflowSkipException:
        return {"ok": True, "summary": None, "seconds": time.monotonic() - started, "span": (began, time.monotonic())}
    except Exception as exc:  # a failed task instance: reported, retried by the caller
        return {"ok": False, "error": f"{type(exc).__name__}: {str(exc)[:300]}", "seconds": time.monotonic() - started}


def _plan(args: tuple[list[dict[str, Any]], str, int, int, str | None]) -> dict[str, Any]:
    """One `plan_<child>` task instance (a forked process too): reads the child's keys from the
    rows the parent loaded, in the DuckDB file, and cuts them into batches (at least one a slot)."""
    outputs, child, size, slots, spec_path = args
    began = time.monotonic()
    os.dup2(2, 1)
    from analytics_provider.fanout.batching import plan_batches

    batches = plan_batches(outputs, child=child, batch_size=size, min_batches=slots, spec_path=spec_path)
    return {"batches": batches, "seconds": time.monotonic() - began, "span": (began, time.monotonic())}


def spec_variant(batch_size: int | None, max_retries: int | None, folder: Path) -> str | None:
    """A copy of the shipped spec with another `resource_defaults.batch_size` and/or
    `client.error_handler.max_retries` (deployment settings: `ANALYTICS_SPEC_PATH`), or None for
    the shipped spec."""
    if not batch_size and max_retries is None:
        return None
    import yaml

    from analytics_provider.config.loader import DEFAULT_SPEC

    raw = yaml.safe_load(Path(DEFAULT_SPEC).read_text(encoding="utf-8"))
    if batch_size:
        raw.setdefault("resource_defaults", {})["batch_size"] = batch_size
        for resource in raw["resources"]:
            resource.pop("batch_size", None)
    if max_retries is not None:
        raw["client"]["error_handler"]["max_retries"] = max_retries
    path = folder / f"spec_batch_{batch_size}_retries_{max_retries}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return str(path)


class ChainRun:
    """The DAG's tasks for CHAIN (dag_factory's own plan: roots, `pipelines` among them reading its
    orgs itself, `plan_pipeline_workflows`, then one mapped task group instance per batch), run by an executor
    with `slots` pool slots: a task instance is queued when its upstream instance (the same map
    index inside the group) has succeeded, and free slots go to the queued instance with the highest
    priority weight (Airflow's default `downstream` rule), then the lowest map index, as Airflow's
    scheduler orders them."""

    def __init__(
        self, pool: Any, spec_path: str | None, context_args: dict[str, Any], slots: int, plan_in_parent: bool = False
    ) -> None:
        from analytics_provider.config.loader import load_spec
        from analytics_provider.dag_plan import DagPlan, task_plan

        spec = load_spec(spec_path)
        self.plan = DagPlan("bench", "", "", tuple(task_plan(spec.resource(name)) for name in CHAIN))
        self.fan_outs = self.plan.fan_outs()
        self.pool, self.spec_path, self.context_args, self.slots = pool, spec_path, context_args, slots
        self.weight = {t.resource: len(self.plan.subtree(t.resource)) for t in self.plan.tasks}
        fanned = [t for t in self.plan.tasks if t.resource in self.fan_outs] if plan_in_parent else []
        self.plans_in_task = {t.parent: (t.resource, t.batch_size or 0, slots) for t in fanned}
        self.done: queue.SimpleQueue[tuple[tuple[str, int], dict[str, Any]]] = queue.SimpleQueue()
        self.queued: list[tuple[int, int, str, dict[str, Any]]] = []
        self.running = 0
        self.results: dict[tuple[str, int], dict[str, Any]] = {}
        self.failures = 0
        self.plan_seconds = 0.0

    def run(self) -> None:
        for root in self.plan.tasks:
            if root.parent is None:
                self._queue(root.resource, -1, {})
        while self.queued or self.running:
            while self.queued and self.running < self.slots:
                self.queued.sort()
                _, index, resource, source = self.queued.pop(0)
                self._start(resource, index, source)
            (resource, index), result = self.done.get()
            self.running -= 1
            if not result["ok"]:
                self.failures += 1
                _common.log(f"  task {resource}[{index}] failed: {result['error']}; retrying")
                self._queue(resource, index, result["source"])
                continue
            self.results[(resource, index)] = result
            if result["summary"] is not None:
                self._release(resource, index, result["summary"], result.get("batches"))

    def _queue(self, resource: str, index: int, source: dict[str, Any]) -> None:
        self.queued.append((-self.weight[resource], index, resource, source))

    def _start(self, resource: str, index: int, source: dict[str, Any]) -> None:
        self.running += 1
        key = (resource, index)

        def finished(result: dict[str, Any]) -> None:
            result["source"] = source
            self.done.put((key, result))

        def crashed(exc: BaseException) -> None:
            self.done.put((key, {"ok": False, "error": repr(exc), "source": source}))

        self.pool.apply_async(
            _task,
            ((resource, source, self.context_args, self.plans_in_task.get(resource)),),
            callback=finished,
            error_callback=crashed,
        )

    def _release(
        self, resource: str, index: int, summary: dict[str, Any], batches: list[list[dict[str, Any]]] | None
    ) -> None:
        """Queue what the finished instance unblocks: its children of the same map index, or (for the
        parent of a fan-out) the plan task, run at once (it is in `default_pool`, not the API pool),
        or the batches the parent's task cut itself (`--plan-in-parent`)."""
        for child in self.plan.tasks:
            if child.parent != resource:
                continue
            if child.resource in self.fan_outs:
                cut = batches if self.plans_in_task.get(resource, ("",))[0] == child.resource else None
                if cut is None:
                    size = child.batch_size or 0
                    planned = self.pool.apply(_plan, (([summary], child.resource, size, self.slots, self.spec_path),))
                    self.plan_seconds += planned["seconds"]
                    self.results[(f"plan_{child.resource}", -1)] = planned
                    cut = planned["batches"]
                for i, batch in enumerate(cut):
                    self._queue(child.resource, i, {"parent_keys": batch})
            else:
                self._queue(child.resource, index, {"parent_output": summary})


def run_operator_chain(
    emulator: Any,
    db: str,
    slots: int,
    window: tuple[str, str],
    spec_path: str | None = None,
    env: dict[str, str] | None = None,
    plan_in_parent: bool = False,
) -> dict[str, Any]:
    os.environ.update(_common.api_connection_env(emulator.base_url))
    os.environ["ANALYTICS_DUCKDB_PATH"] = db
    context_args = {
        "start": window[0].replace("Z", "+00:00"),
        "end": window[1].replace("Z", "+00:00"),
        "spec_path": spec_path,
        "env": env or {},
    }
    ctx = multiprocessing.get_context("fork")
    emulator.reset_stats()
    started = time.monotonic()
    # one process per task instance, at most `slots` at a time (maxtasksperchild=1)
    with ctx.Pool(processes=slots, maxtasksperchild=1) as pool:
        chain = ChainRun(pool, spec_path, context_args, slots, plan_in_parent)
        chain.run()
    wall = time.monotonic() - started
    levels = []
    for name in CHAIN:
        results = [r for (resource, _), r in sorted(chain.results.items()) if resource == name]
        ran = [r for r in results if r["summary"] is not None]
        spans = [r["span"] for r in results]
        levels.append(
            {
                "resource": name,
                "tasks": len(results),
                "skipped": len(results) - len(ran),
                "plan_seconds": (chain.results.get((f"plan_{name}", -1)) or {}).get("seconds", 0.0),
                "first_start": min(b for b, _ in spans) - started,
                "last_end": max(e for _, e in spans) - started,
                "task_seconds_median": _common.median(r["seconds"] for r in ran),
                "steps_median": {
                    step: _common.median(r["steps"][step] for r in ran) for step in ("import", *_STEPS, "other")
                },
                "requests": sum(r["summary"]["requests"] for r in ran),
                "rows": _sum_rows([r["summary"] for r in ran]),
            }
        )
    return {"wall_s": wall, "levels": levels, "failures": chain.failures, "stats": emulator.stats()}


def _sum_rows(summaries: list[dict[str, Any]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for s in summaries:
        for table, n in (s.get("rows") or {}).items():
            total[table] = total.get(table, 0) + n
    return total


# -- plain dlt ------------------------------------------------------------------------------------
def _has_job_number(row: dict[str, Any]) -> bool:
    return row.get("job_number") is not None


def plain_config(base_url: str, parallel: bool, tests: bool = False) -> dict[str, Any]:
    """The chain as plain dlt child resources. dlt raises on a parent row without the field a
    child's path needs, so `workflow_jobs` rows without a `job_number` (approvals, jobs not
    started) are filtered out of that resource (they are not loaded, unlike the operator).
    `tests`: also each job's test results (`job_tests`, as `analytics_pipelines` loads them; plain
    dlt reads them for every job with details, the operator for final jobs only)."""
    ignore_404 = [{"status_code": 404, "action": "ignore"}]
    par = {"parallelized": True} if parallel else {}
    config: dict[str, Any] = {
        "client": {
            "base_url": base_url,
            "headers": {"Accept": "application/json"},
            "auth": {"type": "api_key", "name": "api_key", "api_key": _common.API_KEY, "location": "header"},
            "paginator": {"type": "cursor", "cursor_path": "next_page_token", "cursor_param": "page-token"},
        },
        "resource_defaults": {"primary_key": "id", "write_disposition": "merge"},
        "resources": [
            {"name": "self_collaborations", "endpoint": {"path": "/v2/me/collaborations", "data_selector": "$"}},
            {
                "name": "pipelines",
                "endpoint": {
                    "path": "/v2/pipeline",
                    "params": {"org-slug": "{resources.self_collaborations.slug}"},
                    "data_selector": "items",
                },
            },
            {
                "name": "pipeline_workflows",
                "table_name": "workflow",
                "endpoint": {
                    "path": "/v2/pipeline/{resources.pipelines.id}/workflow",
                    "data_selector": "items",
                    "response_actions": ignore_404,
                },
                **par,
            },
            {
                "name": "workflow_jobs",
                "endpoint": {
                    "path": "/v2/workflow/{resources.pipeline_workflows.id}/job",
                    "data_selector": "items",
                    "response_actions": ignore_404,
                },
                "include_from_parent": ["id"],
                "processing_steps": [{"filter": _has_job_number}],
                **par,
            },
            {
                "name": "jobs",
                "primary_key": ["_workflow_jobs_project_slug", "number"],
                "endpoint": {
                    "path": "/v2/project/{resources.workflow_jobs.project_slug}/job/"
                    "{resources.workflow_jobs.job_number}",
                    "data_selector": "$",
                },
                "include_from_parent": ["project_slug"],
                **par,
            },
        ],
    }
    if tests:
        config["resources"].append(
            {
                "name": "job_tests",
                "primary_key": [],
                "write_disposition": "append",
                "endpoint": {
                    "path": "/v2/project/{resources.jobs._workflow_jobs_project_slug}/{resources.jobs.number}/tests",
                    "data_selector": "items",
                    "response_actions": ignore_404,
                },
                "include_from_parent": ["number"],
                **par,
            }
        )
    return config


def plain_child(args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    import dlt
    from dlt.sources.rest_api import rest_api_source

    config = plain_config(args.base_url, args.parallel, tests=args.tests)
    with tempfile.TemporaryDirectory(prefix="bench_fanout_plain_") as workdir:
        source = rest_api_source(config, name="plain_fanout")
        pipeline = dlt.pipeline(
            pipeline_name="plain_fanout",
            destination=dlt.destinations.duckdb(args.db),
            dataset_name="analytics",
            pipelines_dir=workdir,
        )
        info = pipeline.run(source, loader_file_format="jsonl")
        rows = pipeline.last_trace.last_normalize_info.row_counts
    return {
        "seconds": time.monotonic() - started,
        "rows": {k: v for k, v in rows.items() if not k.startswith("_dlt")},
        "loads": len(info.loads_ids),
    }


def run_plain(emulator: Any, db: str, parallel: bool, tests: bool = False) -> dict[str, Any]:
    emulator.reset_stats()
    argv = [str(Path(__file__)), "--plain-child", "--base-url", emulator.base_url, "--db", db]
    if parallel:
        argv.append("--parallel")
    if tests:
        argv.append("--tests")
    result = _common.run_child(argv)
    result["stats"] = emulator.stats()
    return result


# -- the day --------------------------------------------------------------------------------------
def spawn_day(min_pipelines: int) -> tuple[Any, float, int]:
    """An emulator whose one-day history holds at least `min_pipelines` pipelines."""
    scale = max(0.5, round(min_pipelines / 52, 1))  # ~53 pipelines a scale unit on this day
    for _ in range(4):
        emu = _common.spawn(scale=scale, days=1, latency_ms=LATENCY_MS, rate_limit=RATE_LIMIT)
        count = len(emu.truth("pipelines"))
        if count >= min_pipelines:
            return emu, scale, count
        emu.stop()
        scale = round(scale * min_pipelines / max(count, 1) * 1.03, 2)
    raise RuntimeError(f"could not find a scale with {min_pipelines} pipelines a day")


def truth_counts(emulator: Any) -> dict[str, int]:
    final = {"success", "failed", "retried", "infrastructure_fail", "timedout", "terminated-unknown", "canceled"}
    jobs = emulator.truth("jobs")
    pipelines = emulator.truth("pipelines")
    pages = 0
    for org in emulator.truth("self_collaborations"):
        n = sum(1 for p in pipelines if p["project_slug"].startswith(org["slug"] + "/"))
        pages += max(1, -(-n // 20))
    return {
        "pipelines": len(pipelines),
        "pipeline_pages": pages,
        "workflow": len(emulator.truth("pipeline_workflows")),
        "workflow_jobs": len(emulator.truth("workflow_jobs")),
        "jobs_started": len(jobs),
        "jobs_final": sum(1 for j in jobs if j.get("status") in final),
    }


def minimal_requests(truth: dict[str, int], variant: str) -> int:
    """Requests the chain needs at least, from the emulator's truth: the collaborations, every page of
    the day's pipelines, one workflow list per pipeline, one job list per workflow, one detail per
    job the variant fetches (the operator: final jobs; plain dlt: every started job)."""
    jobs = truth["jobs_final"] if variant == "operator" else truth["jobs_started"]
    return 1 + truth["pipeline_pages"] + truth["pipelines"] + truth["workflow"] + jobs


def needed(stats: dict[str, Any]) -> int:
    """Requests the run made, except rate-limit refusals (a failed, retried task counts twice)."""
    by_status = stats.get("by_status", {})
    return sum(n for status, n in by_status.items() if status != "429")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a small day, one round")
    ap.add_argument("--pipelines", type=int, default=None, help="minimum pipelines in the day (default 500)")
    ap.add_argument("--slots", type=int, default=4, help="pool slots for mapped tasks (default 4)")
    ap.add_argument("--rounds", type=int, default=None, help="rounds of the operator (default 2)")
    ap.add_argument("--plain-rounds", type=int, default=1, help="rounds of plain parallelized (default 1)")
    ap.add_argument("--sequential-rounds", type=int, default=1, help="rounds of plain sequential (default 1)")
    ap.add_argument("--batch-size", type=int, default=None, help="parent keys per mapped task (default: the spec's)")
    ap.add_argument("--max-retries", type=int, default=None, help="the spec's error_handler.max_retries (default 3)")
    ap.add_argument("--no-plain", action="store_true", help="operator only")
    ap.add_argument(
        "--no-limit-counts", action="store_true", help="the API sends no RateLimit-* counts, only 429 + Retry-After"
    )
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for the operator's tasks (dlt config)")
    ap.add_argument(
        "--plan-in-parent",
        action="store_true",
        help="an experiment: the fan-out parent's task cuts the batches itself (no plan task)",
    )
    ap.add_argument("--json", default=None, help="write the figures here")
    ap.add_argument("--plain-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--parallel", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--tests", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--base-url", help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.plain_child:
        _common.emit(plain_child(args))
        return 0

    min_pipelines = args.pipelines or (30 if args.quick else 500)
    rounds = args.rounds or (1 if args.quick else 2)
    _common.header("Fan-out: pipelines -> workflows -> job lists -> job details", args.quick)
    import analytics_provider.operators.load  # noqa: F401  (the parent of forked tasks has it, like a worker)

    emu, scale, count = spawn_day(min_pipelines)
    if args.no_limit_counts:
        emu.control("POST", "settings", {"rate_limit_counts": False})
    tmp = Path(tempfile.mkdtemp(prefix="bench_fanout_"))
    results: dict[str, list[dict[str, Any]]] = {"operator": [], "plain parallelized": [], "plain sequential": []}
    spec_path = spec_variant(args.batch_size, args.max_retries, tmp)
    try:
        truth = truth_counts(emu)
        _common.log(f"fanout: scale {scale}, {count} pipelines in the day; truth {truth}")
        window = _common.window_iso(1)
        for r in range(rounds):
            order = ["operator"]
            if r < args.plain_rounds:
                order = ["operator", "plain parallelized"] if r % 2 == 0 else ["plain parallelized", "operator"]
            if r < args.sequential_rounds:
                order.append("plain sequential")
            if args.no_plain:
                order = ["operator"]
            for variant in order:
                time.sleep(2)  # let the token bucket refill
                db = str(tmp / f"{variant.replace(' ', '_')}_{r}.duckdb")
                _common.log(f"fanout round {r + 1}/{rounds}: {variant}")
                if variant == "operator":
                    env = dict(pair.split("=", 1) for pair in args.env)
                    res = run_operator_chain(emu, db, args.slots, window, spec_path, env, args.plan_in_parent)
                else:
                    res = run_plain(emu, db, parallel=variant == "plain parallelized")
                    res["wall_s"] = res["wall_s"]
                res["made"] = needed(res["stats"])
                res["needed"] = minimal_requests(truth, "operator" if variant == "operator" else "plain")
                res["bound_s"] = res["needed"] / RATE_LIMIT
                res["ratio"] = res["wall_s"] / res["bound_s"]
                _common.log(
                    f"  {variant}: {res['wall_s']:.1f}s, {res['needed']} requests needed, {res['made']} made "
                    f"(+{res['stats']['by_status'].get('429', 0)} refused), {res['ratio']:.2f}x bound"
                )
                results[variant].append(res)
    finally:
        emu.stop()
    report(results, truth, scale, count, args)
    return 0


def budget_line(timeline: list[list[int]]) -> str:
    """The emulator's per-second counts as `served` per 5-second span, and the budget left unused
    (seconds under the limit, before the last second)."""
    served = [ok for ok, _ in timeline]
    spans = [sum(served[i : i + 5]) for i in range(0, len(served), 5)]
    unused = sum(max(0.0, RATE_LIMIT - n) for n in served[1:-1]) / RATE_LIMIT
    refused = sum(r for _, r in timeline)
    return f"{unused:.1f} s of budget unused; {refused} refused; per 5 s: " + " ".join(str(n) for n in spans)


def report(
    results: dict[str, list[dict[str, Any]]], truth: dict[str, int], scale: float, count: int, args: Any
) -> None:
    out = _common.out
    op = results["operator"]
    from analytics_provider.config.loader import load_spec

    batch = args.batch_size or f"the spec's ({load_spec().resource('pipeline_workflows').batch_size})"
    out(
        f"Emulator: {LATENCY_MS:.0f} ms latency, {RATE_LIMIT:.0f} requests/s, one day (scale {scale}) with "
        f"{count} pipelines, {truth['workflow']} workflows, {truth['workflow_jobs']} workflow jobs, "
        f"{truth['jobs_started']} started jobs ({truth['jobs_final']} final). Operator: pool of {args.slots} slots, "
        f"one forked process per task instance, {batch} parent keys a mapped task"
        + (f", task environment {args.env}" if args.env else "")
        + (", batches cut in the parent's task (`--plan-in-parent`, an experiment)" if args.plan_in_parent else "")
        + (f", max_retries {args.max_retries}" if args.max_retries is not None else "")
        + "."
    )
    out()
    rows = []
    for variant, runs in results.items():
        if not runs:
            continue
        wall = _common.median(r["wall_s"] for r in runs)
        need = _common.median(r["needed"] for r in runs)
        made = _common.median(r.get("made", r["needed"]) for r in runs)
        refused = _common.median(r["stats"]["by_status"].get("429", 0) for r in runs)
        ratio = _common.median(r["ratio"] for r in runs)
        failures = sum(r.get("failures", 0) for r in runs)
        rows.append(
            [
                variant,
                len(runs),
                wall,
                _common.spread(r["wall_s"] for r in runs),
                int(need),
                int(made),
                int(refused),
                need / RATE_LIMIT,
                ratio,
                failures if variant == "operator" else "-",
            ]
        )
    out(
        _common.table(
            [
                "variant",
                "runs",
                "wall s (median)",
                "wall s (range)",
                "requests needed",
                "made (not 429)",
                "429s",
                "bound s",
                "wall/bound",
                "task failures",
            ],
            rows,
        )
    )
    out()
    if op:
        base = _common.median(r["wall_s"] for r in op)
        ratios = []
        for variant in ("plain parallelized", "plain sequential"):
            if results[variant]:
                ratios.append([f"{variant} / operator", _common.median(r["wall_s"] for r in results[variant]) / base])
        out(_common.table(["wall-time ratio", "x"], ratios))
        out()
        levels = []
        for i, level in enumerate(op[0]["levels"]):
            per_run = [run["levels"][i] for run in op]
            steps = level.get("steps_median") or {}
            levels.append(
                [
                    level["resource"],
                    level["tasks"] - level["skipped"],
                    _common.median(lv["first_start"] for lv in per_run),
                    _common.median(lv["last_end"] for lv in per_run),
                    _common.median(lv["task_seconds_median"] for lv in per_run),
                    " / ".join(f"{steps.get(k, float('nan')):.1f}" for k in ("import", *_STEPS, "other")),
                    level["requests"],
                    level["requests"] / RATE_LIMIT,
                    json.dumps(level["rows"]),
                ]
            )
        out(
            "Operator, per task (first run's requests and rows; seconds since the run's start, medians over runs; "
            "the tasks of the mapped group overlap):"
        )
        out()
        out(
            _common.table(
                [
                    "task",
                    "instances",
                    "first starts s",
                    "last ends s",
                    "task s (median)",
                    "task steps s: import / sync / extract / normalize / load / other",
                    "requests",
                    "bound s",
                    "rows",
                ],
                levels,
            )
        )
        plans = [lv["plan_seconds"] for run in op for lv in run["levels"] if lv["plan_seconds"]]
        if plans:
            out(f"Plan task(s): {', '.join(f'{x:.2f}' for x in plans)} s")
        else:
            out("Plan task(s): none (the batches were cut in the parent's task)")
        out()
        ratio = _common.median(r["ratio"] for r in op)
        failures = sum(r["failures"] for r in op)
        out(f"Target wall/bound <= 1.3: {_common.verdict(ratio, 1.3, higher_is_better=False)}")
        out(f"Target zero failures: {'MET' if failures == 0 else f'MISSED ({failures} failed task instances)'}")
        out()
    out("Requests served a second (first run of each variant; the limit allows 50, and 50 more at the start):")
    out()
    for variant, runs in results.items():
        if runs:
            out(f"- {variant}: {budget_line(runs[0]['stats'].get('timeline') or [])}")
    out()
    payload = {"results": results, "truth": truth, "scale": scale, "pipelines": count, "slots": args.slots}
    _common.write_json(args.json, payload)


if __name__ == "__main__":
    raise SystemExit(main())
