"""The DAG factory and the generated DAG file, as Airflow's DAG processor sees them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jinja2
import pendulum
import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk import DAG, Asset
from airflow.sdk.definitions._internal.expandinput import MappedArgument
from airflow.sdk.definitions.mappedoperator import MappedOperator
from airflow.sdk.definitions.taskgroup import MappedTaskGroup
from airflow.serialization.serialized_objects import DagSerialization
from airflow.timetables.base import TimeRestriction
from airflow.timetables.interval import CronDataIntervalTimetable, DeltaDataIntervalTimetable

from analytics_provider.config.loader import load_spec
from analytics_provider.config.model import Spec
from analytics_provider.dag_factory import DEFAULT_POOL, FactoryConfig, build_dags, timetable_for
from analytics_provider.dag_plan import render_plans
from analytics_provider.fanout.batching import plan_batch_refs, plan_batches
from analytics_provider.operators.load import AnalyticsLoadOperator
from analytics_provider.window import resolve_window
from tests.fanout.test_batching import record

REPO = Path(__file__).resolve().parents[1]
DAGS_FOLDER = REPO / "dags"
CUSTOM_SPEC = Path(__file__).resolve().parent / "dags" / "custom_spec.yaml"
DEEP_SPEC = Path(__file__).resolve().parent / "dags" / "deep_spec.yaml"
TIMED_DAG_IDS = ["analytics_pipelines", "analytics_projects", "analytics_users"]
"""The DAGs on a clock; `analytics_tests` runs when `job_tests` is updated (asset-aware)."""
DAG_IDS = sorted([*TIMED_DAG_IDS, "analytics_tests"])
UTC = timezone.utc


def _without_analytics_env(mp: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("ANALYTICS_"):
            mp.delenv(name)


def _load_dagbag(**env: str) -> DagBag:
    """Parse the `dags/` folder like the DAG processor does (safe mode: the file must look like a DAG file).
    Airflow 3.3's DagBag has no `include_examples`: examples come from a separate bundle, never from here."""
    with pytest.MonkeyPatch.context() as mp:
        _without_analytics_env(mp)
        for name, value in env.items():
            mp.setenv(name, value)
        return DagBag(dag_folder=DAGS_FOLDER, safe_mode=True)


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return _load_dagbag()


@pytest.fixture(scope="module")
def spec() -> Spec:
    return load_spec()


def _load_tasks(dag: DAG) -> dict[str, Any]:
    """Load tasks by resource (a task in a mapped task group has the group's prefix in its id)."""
    return {
        _partial(t, "resource"): t
        for t in dag.tasks
        if not t.task_id.startswith("plan_") and t.task_id != "refresh_views"  # views/task.py
    }


def _partial(task: Any, name: str) -> Any:
    """A constructor argument of a load task, mapped or not."""
    return task.partial_kwargs[name] if isinstance(task, MappedOperator) else getattr(task, name)


# --- the generated DAG file in a DagBag ----------------------------------------------------------


def test_dag_file_parses_without_import_errors(dagbag: DagBag) -> None:
    assert dagbag.import_errors == {}
    assert sorted(dagbag.dag_ids) == sorted([*DAG_IDS, "analytics_usage"])


def test_every_resource_has_its_task_in_exactly_one_dag(dagbag: DagBag, spec: Spec) -> None:
    homes = {name: [d.dag_id for d in dagbag.dags.values() if name in _load_tasks(d)] for name in spec.resources}
    assert homes == {name: [spec.dag_of(name).dag_id] for name in spec.resources}  # type: ignore[union-attr]
    for dag_spec in spec.dags:
        dag = dagbag.dags[dag_spec.dag_id]
        assert set(_load_tasks(dag)) == set(dag_spec.resources)
    plans = {t.task_id for t in dagbag.dags["analytics_pipelines"].tasks if t.task_id.startswith("plan_")}
    assert plans == {"plan_context", "plan_pipeline_workflows"}, "one plan task per fan-out, none for `pipelines`"
    plans = {t.task_id for t in dagbag.dags["analytics_projects"].tasks if t.task_id.startswith("plan_")}
    assert plans == {
        "plan_specific_project",
        "plan_insights_metrics",
        "plan_insights_branches",
        "plan_insights_workflows",
        "plan_rerun_workflows",  # below the incremental `workflow_runs`: re-runs by id, then their jobs
    }


def test_a_lone_batched_child_is_a_task_mapped_over_its_plan_tasks_batches(dagbag: DagBag, spec: Spec) -> None:
    lone = {"context": "analytics_pipelines"} | dict.fromkeys(
        ("specific_project", "insights_metrics", "insights_branches"), "analytics_projects"
    )
    for name, dag_id in lone.items():
        dag = dagbag.dags[dag_id]
        task, plan = dag.get_task(name), dag.get_task(f"plan_{name}")
        assert isinstance(task, MappedOperator) and task.operator_class is AnalyticsLoadOperator, name
        assert task.upstream_task_ids == {plan.task_id}, name
        assert list(task.expand_input.value) == ["parent_keys"]
        assert task.expand_input.value["parent_keys"].operator is plan
        assert plan.python_callable is plan_batch_refs, "batches as XComs of their own, references returned"
        assert plan.op_kwargs["child"] == name
        assert plan.upstream_task_ids == {spec.resource(name).parent}, name


def test_a_batched_child_with_children_is_a_mapped_task_group_of_its_subtree(dagbag: DagBag) -> None:
    """Each instance of the group loads one batch of pipelines and everything below it, each task
    reading its keys from the same instance's parent: a batch's jobs start when that batch's job
    lists are loaded, not when every batch's are."""
    dag = dagbag.dags["analytics_pipelines"]
    plan = dag.get_task("plan_pipeline_workflows")
    assert plan.upstream_task_ids == {"pipelines"}
    assert plan.op_kwargs["child"] == "pipeline_workflows"
    group = dag.task_group_dict["pipeline_workflows_batches"]
    assert isinstance(group, MappedTaskGroup)
    assert list(group.iter_mapped_dependencies()) == [plan]
    tasks = _load_tasks(dag)
    inside = {name for name, task in tasks.items() if task.task_group is group}
    assert inside == {"pipeline_workflows", "workflow", "workflow_jobs", "jobs", "job_tests"}
    top = tasks["pipeline_workflows"]
    assert top.task_id == "pipeline_workflows_batches.pipeline_workflows"
    assert top.upstream_task_ids == {plan.task_id}
    assert isinstance(top.parent_keys, MappedArgument) and top.parent_output is None
    for name, parent in {
        "workflow": "pipeline_workflows",
        "workflow_jobs": "pipeline_workflows",
        "jobs": "workflow_jobs",
        "job_tests": "jobs",
    }.items():
        task = tasks[name]
        assert task.upstream_task_ids == {tasks[parent].task_id}, name
        assert task.parent_output.operator is tasks[parent] and task.parent_keys is None, name


def test_an_incremental_child_is_one_task_reading_every_key_of_its_parent(
    dagbag: DagBag, custom_dagbag: DagBag
) -> None:
    """Its cursors need a single writer: no plan task, no mapping, after every batch of a mapped parent."""
    builds = custom_dagbag.dags["custom_orgs"].get_task("builds")
    assert isinstance(builds, AnalyticsLoadOperator) and builds.upstream_task_ids == {"repos"}
    assert isinstance(builds.parent_output.operator, MappedOperator), "every mapped `repos` task's output"
    assert builds.parent_keys is None


def test_flaky_tests_run_when_test_results_land(dagbag: DagBag, spec: Spec) -> None:
    """`analytics_tests` is scheduled on the Asset both `job_tests` tasks update (asset-aware, no
    clock); its `flaky_tests` task reads the projects from the API itself, so `projects` stays in
    `analytics_projects`."""
    from airflow.sdk.definitions.timetables.assets import AssetTriggeredTimetable

    dag = dagbag.dags["analytics_tests"]
    assert isinstance(dag.timetable, AssetTriggeredTimetable)
    assert [a.uri for a in dag.timetable.asset_condition.objects] == ["analytics://analytics/job_tests"]
    producers = [
        (d.dag_id, t.task_id)
        for d in dagbag.dags.values()
        for t in d.tasks
        if any(getattr(o, "uri", None) == "analytics://analytics/job_tests" for o in t.outlets)
    ]
    assert sorted(producers) == [
        ("analytics_pipelines", "pipeline_workflows_batches.job_tests"),
        ("analytics_projects", "rerun_workflows_batches.rerun_job_tests"),
    ]
    flaky = dag.get_task("flaky_tests")
    assert flaky.upstream_task_ids == set() and not flaky.is_mapped
    assert spec.resource("flaky_tests").fetch_parent and "projects" not in dag.task_ids
    assert set(dag.params) >= {"start", "end"}, "the trigger form is the same as the other DAGs'"


def test_a_child_that_fetches_its_parent_is_a_root_of_the_dag(dagbag: DagBag, spec: Spec) -> None:
    """`pipelines` reads the orgs from the API itself (`fetch_parent`): it starts with the run, beside
    `self_collaborations`, and the fan-out below it does not wait for that task."""
    assert spec.resource("pipelines").fetch_parent and spec.resource("pipelines").parent == "self_collaborations"
    dag = dagbag.dags["analytics_pipelines"]
    pipelines = dag.get_task("pipelines")
    assert isinstance(pipelines, AnalyticsLoadOperator) and not pipelines.is_mapped
    assert pipelines.upstream_task_ids == set()
    assert pipelines.parent_output is None and pipelines.parent_keys is None
    assert dag.get_task("self_collaborations").downstream_task_ids == {"plan_context"}
    assert "| `pipelines` | `analytics.pipelines` | `self_collaborations`, read by the task itself |" in dag.doc_md


def test_roots_are_not_mapped(dagbag: DagBag, spec: Spec) -> None:
    roots = {r.name for r in spec.resources.values() if r.parent is None}
    assert roots == {"self_ids", "self_collaborations", "me", "projects"}
    for dag in dagbag.dags.values():
        for name, task in _load_tasks(dag).items():
            if name in roots:
                assert isinstance(task, AnalyticsLoadOperator), name
                assert not task.is_mapped
                assert task.upstream_task_ids == set()
                assert task.resource == name


def test_an_incremental_child_of_a_task_group_waits_for_every_instance_and_tolerates_skipped_ones() -> None:
    """A group instance whose batch had nothing to load is skipped; the incremental child after the
    group must still load what the other instances loaded (it skips itself when none did)."""
    dag = build_dags(FactoryConfig(spec_path=str(DEEP_SPEC)))["deep"]
    group = dag.task_group_dict["repos_batches"]
    assert isinstance(group, MappedTaskGroup)
    assert {t.task_id for t in group} == {"repos_batches.repos", "repos_batches.branches"}
    builds = dag.get_task("builds")
    assert builds.upstream_task_ids == {"repos_batches.branches"}
    assert builds.parent_output.operator is dag.get_task("repos_batches.branches")
    assert builds.trigger_rule == "none_failed"
    assert dag.get_task("repos_batches.branches").trigger_rule == "all_success", "inside: skip with the parent"


def test_plan_tasks_cut_the_spec_batch_size(dagbag: DagBag, duckdb_path: Path) -> None:
    dag = dagbag.dags["analytics_pipelines"]
    where = {"spec_path": None, "destination_conn_id": None, "dataset_name": "analytics"}
    assert dag.get_task("plan_context").op_kwargs == {"child": "context", "batch_size": 200, "min_batches": 4, **where}

    orgs = [{"id": f"o{i:03d}", "slug": f"gh/o{i:03d}"} for i in range(450)]
    summary = {"load_ids": [record(duckdb_path, "self_collaborations", orgs)]}
    plan = dag.get_task("plan_context")
    # 3 batches of 200 at most, spread over the 4 pool slots while each keeps 100 keys
    assert [len(b) for b in plan_batches(summary, **plan.op_kwargs)] == [113, 113, 112, 112]


@pytest.mark.parametrize("dag_id", TIMED_DAG_IDS)
def test_timetable_gives_real_data_intervals(dagbag: DagBag, dag_id: str) -> None:
    timetable = dagbag.dags[dag_id].timetable
    assert isinstance(timetable, CronDataIntervalTimetable)

    first = timetable.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(earliest=pendulum.datetime(2026, 3, 10), latest=None, catchup=True),
    )
    assert first is not None
    assert first.data_interval.start == pendulum.datetime(2026, 3, 10)
    assert first.data_interval.end == pendulum.datetime(2026, 3, 11)
    assert first.data_interval.start < first.data_interval.end

    manual = timetable.infer_manual_data_interval(run_after=pendulum.datetime(2026, 3, 10, 5))
    assert (manual.start, manual.end) == (pendulum.datetime(2026, 3, 9), pendulum.datetime(2026, 3, 10))


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_dag_settings(dagbag: DagBag, spec: Spec, dag_id: str) -> None:
    dag = dagbag.dags[dag_id]
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert set(dag.tags) == {"analytics", "dlt"}
    assert dag.start_date == datetime(2026, 1, 1, tzinfo=UTC)
    assert dag.doc_md is not None and dag.doc_md.startswith(f"### {dag_id}")
    for name in _load_tasks(dag):
        assert f"| `{name}` | `analytics.{spec.resource(name).table}` |" in dag.doc_md
    assert dag.description
    assert dag.default_args["retries"] == 2
    assert dag.default_args["retry_delay"] == timedelta(minutes=1)


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_params_start_and_end_default_to_none(dagbag: DagBag, dag_id: str) -> None:
    params = dagbag.dags[dag_id].params
    assert set(params) >= {"start", "end"}
    for name in ("start", "end"):
        param = params.get_param(name)
        assert param.value is None
        assert param.schema["type"] == ["null", "string"]
        assert param.description


def test_load_tasks_template_the_window_params_so_unset_params_mean_no_window(dagbag: DagBag) -> None:
    templates = {
        (_partial(task, "start"), _partial(task, "end"))
        for dag in dagbag.dags.values()
        for task in _load_tasks(dag).values()
    }
    assert templates == {("{{ params.start or '' }}", "{{ params.end or '' }}")}
    ((start, end),) = templates
    unset = {"start": None, "end": None}
    rendered = {"start": jinja2.Template(start).render(params=unset), "end": jinja2.Template(end).render(params=unset)}
    assert rendered == {"start": "", "end": ""}
    interval_start = datetime(2026, 3, 9, tzinfo=UTC)
    context = {"data_interval_start": interval_start, "data_interval_end": datetime(2026, 3, 10, tzinfo=UTC)}
    window = resolve_window(context, **rendered)
    assert (window.start, window.end) == (interval_start, None), "unset params: continue from the cursor"


def test_each_load_task_has_an_asset_outlet_for_its_table(dagbag: DagBag, spec: Spec) -> None:
    for dag in dagbag.dags.values():
        for task in dag.tasks:
            outlets = task.outlets if not isinstance(task, MappedOperator) else task.partial_kwargs["outlets"]
            if task.task_id.startswith("plan_") or task.task_id == "refresh_views":
                assert not outlets, task.task_id
                continue
            name = _partial(task, "resource")
            table = spec.resource(name).table if name in spec.resources else name  # `usage`: not a spec resource
            assert outlets == [Asset(name=f"analytics.{table}", uri=f"analytics://analytics/{table}")], task.task_id
    workflow_writers = [
        name
        for name, t in _load_tasks(dagbag.dags["analytics_pipelines"]).items()
        if Asset(name="analytics.workflow", uri="analytics://analytics/workflow") in t.outlets
    ]
    assert sorted(workflow_writers) == ["pipeline_workflows", "workflow"], "both write the `workflow` table"


def test_load_tasks_use_the_api_pool_and_plan_tasks_do_not(dagbag: DagBag) -> None:
    for dag in dagbag.dags.values():
        for task in dag.tasks:
            api_free = task.task_id.startswith("plan_") or task.task_id == "refresh_views"
            expected = "default_pool" if api_free else DEFAULT_POOL
            assert task.pool == expected, task.task_id


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_dag_survives_serialization(dagbag: DagBag, dag_id: str) -> None:
    """The scheduler and workers only ever see the serialized DAG."""
    dag = dagbag.dags[dag_id]
    restored = DagSerialization.from_dict(DagSerialization.to_dict(dag))
    assert sorted(restored.task_ids) == sorted(t.task_id for t in dag.tasks)
    assert type(restored.timetable).__name__ == type(dag.timetable).__name__
    mapped = sorted(t.task_id for t in restored.tasks if t.is_mapped)
    assert mapped == sorted(t.task_id for t in dag.tasks if isinstance(t, MappedOperator))


def test_importing_the_dag_file_does_not_import_dlt_or_requests(tmp_path: Path) -> None:
    """Parsing must stay cheap: dlt and requests are imported when a task runs, not when the file is parsed.
    Airflow itself does not import `requests` on `import airflow.sdk` (checked below), so both are asserted."""
    code = (
        "import json, sys\n"
        "import airflow.sdk\n"
        "def loaded(): return sorted(m for m in sys.modules if m.split('.')[0] in ('dlt', 'requests'))\n"
        "before = loaded()\n"
        "sys.path.insert(0, 'dags')\n"
        "import analytics\n"
        "dags = sorted(k for k, v in vars(analytics).items() if isinstance(v, airflow.sdk.DAG))\n"
        "print(json.dumps({'before': before, 'after': loaded(), 'dags': dags}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANALYTICS_")}
    env["AIRFLOW_HOME"] = str(tmp_path / "airflow_home")
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["dags"] == DAG_IDS, "the import really built the DAGs"
    assert report["before"] == [], "Airflow itself loaded dlt/requests: tighten this test to `dlt` only"
    assert report["after"] == []


# --- a custom spec through ANALYTICS_SPEC_PATH ---------------------------------------------------


@pytest.fixture(scope="module")
def custom_dagbag() -> DagBag:
    return _load_dagbag(ANALYTICS_SPEC_PATH=str(CUSTOM_SPEC), ANALYTICS_DATASET="warehouse", ANALYTICS_POOL="")


def test_custom_spec_from_env_changes_dags_schedules_and_tables(custom_dagbag: DagBag) -> None:
    assert custom_dagbag.import_errors == {}
    assert sorted(custom_dagbag.dag_ids) == ["analytics_usage", "custom_orgs", "custom_users"]
    orgs = custom_dagbag.dags["custom_orgs"]
    tasks = sorted(t.task_id for t in orgs.tasks)
    assert tasks == ["builds", "orgs", "plan_repos", "refresh_views", "repos"], "`builds`: incremental"
    where = {"spec_path": str(CUSTOM_SPEC), "destination_conn_id": None, "dataset_name": "warehouse"}
    assert orgs.get_task("plan_repos").op_kwargs == {"child": "repos", "batch_size": 25, "min_batches": 4, **where}
    assert orgs.get_task("repos").partial_kwargs["outlets"] == [
        Asset(name="warehouse.repositories", uri="analytics://warehouse/repositories")
    ]
    assert {t.pool for t in orgs.tasks} == {"default_pool"}, "ANALYTICS_POOL='' means no pool"


def test_every_schedule_is_a_delta_timetable_with_real_intervals(custom_dagbag: DagBag) -> None:
    timetable = custom_dagbag.dags["custom_orgs"].timetable
    assert isinstance(timetable, DeltaDataIntervalTimetable)
    manual = timetable.infer_manual_data_interval(run_after=pendulum.datetime(2026, 3, 10, 5, 7))
    assert manual.end - manual.start == timedelta(minutes=15)
    assert manual.end <= pendulum.datetime(2026, 3, 10, 5, 7)


def test_cron_schedule_is_a_cron_timetable_with_real_intervals(custom_dagbag: DagBag) -> None:
    timetable = custom_dagbag.dags["custom_users"].timetable
    assert isinstance(timetable, CronDataIntervalTimetable)
    info = timetable.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(earliest=pendulum.datetime(2026, 3, 13, 7), latest=None, catchup=True),
    )
    assert info is not None
    # After Friday 2026-03-13 07:00 the next weekday 06:30 is Monday's; its interval runs to Tuesday's.
    assert info.data_interval.start == pendulum.datetime(2026, 3, 16, 6, 30)
    assert info.data_interval.end == pendulum.datetime(2026, 3, 17, 6, 30)


def test_invalid_spec_fails_dag_parsing_naming_the_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad_spec.yaml"
    bad.write_text(CUSTOM_SPEC.read_text(encoding="utf-8") + "\nextras: {}\n", encoding="utf-8")
    bag = _load_dagbag(ANALYTICS_SPEC_PATH=str(bad))
    assert bag.dag_ids == ["analytics_usage"], "the usage DAG does not read the spec"
    assert len(bag.import_errors) == 1
    (message,) = bag.import_errors.values()
    assert "SpecError" in message
    assert f"{bad}: <root>: unknown key(s) `extras`" in message


def test_bad_schedule_fails_dag_parsing_naming_the_spec_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad_schedule.yaml"
    bad.write_text(CUSTOM_SPEC.read_text(encoding="utf-8").replace('"every 15m"', '"every soon"'), encoding="utf-8")
    bag = _load_dagbag(ANALYTICS_SPEC_PATH=str(bad))
    (message,) = bag.import_errors.values()
    assert str(bad) in message
    assert "schedule" in message


# --- the factory without a DagBag -----------------------------------------------------------------


def test_render_plans_orders_parents_first(spec: Spec) -> None:
    plans = {p.dag_id: p for p in render_plans(spec)}
    assert sorted(plans) == DAG_IDS
    for plan in plans.values():
        order = [t.resource for t in plan.tasks]
        for t in plan.tasks:
            if t.parent is not None:
                assert order.index(t.parent) < order.index(t.resource)
    custom = {p.dag_id: p for p in render_plans(load_spec(CUSTOM_SPEC))}
    assert [t.resource for t in custom["custom_orgs"].tasks] == ["orgs", "repos", "builds"]
    assert custom["custom_orgs"].schedule == "every 15m"


def test_render_plans_batch_sizes(spec: Spec) -> None:
    tasks = {t.resource: t for p in render_plans(spec) for t in p.tasks}
    assert tasks["pipelines"].batch_size is None and tasks["pipelines"].parent is None, "fetches its parent: a root"
    assert tasks["pipelines"].fetches == "self_collaborations"
    for name, t in tasks.items():
        resource = spec.resource(name)
        if resource.parent is None or resource.fetch_parent:
            assert t.batch_size is None, name
        elif resource.incremental is None:
            # a first load's fan-out in 4 mapped groups, one a pool slot (bench/first_load_airflow.py)
            expected = 300 if name == "pipeline_workflows" else 200
            assert t.batch_size == resource.batch_size == expected, name
        assert t.table == resource.table
        assert t.parent == (None if resource.fetch_parent else resource.parent)
    assert tasks["pipeline_workflows"].table == "workflow"


@pytest.mark.parametrize(
    ("schedule", "kind", "expression"),
    [
        ("@daily", CronDataIntervalTimetable, "0 0 * * *"),
        ("@hourly", CronDataIntervalTimetable, "0 * * * *"),
        ("@weekly", CronDataIntervalTimetable, "0 0 * * 0"),
        ("@monthly", CronDataIntervalTimetable, "0 0 1 * *"),
        ("15 3 * * *", CronDataIntervalTimetable, "15 3 * * *"),
        ("every 2h", DeltaDataIntervalTimetable, None),
    ],
    ids=["daily", "hourly", "weekly", "monthly", "cron", "every"],
)
def test_timetable_for(schedule: str, kind: type, expression: str | None) -> None:
    timetable = timetable_for(schedule)
    assert type(timetable) is kind
    if expression is not None:
        assert timetable.serialize()["expression"] == expression
    else:
        assert timetable.serialize()["delta"] == timedelta(hours=2).total_seconds()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    _without_analytics_env(monkeypatch)
    yield monkeypatch


def test_factory_config_defaults(clean_env: pytest.MonkeyPatch) -> None:
    assert FactoryConfig.from_env() == FactoryConfig()
    assert FactoryConfig().pool == DEFAULT_POOL == "analytics_api"


def test_factory_config_from_env(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("ANALYTICS_SPEC_PATH", "/specs/mine.yaml")
    clean_env.setenv("ANALYTICS_CONN_ID", "my_api")
    clean_env.setenv("ANALYTICS_DESTINATION_CONN_ID", "warehouse")
    clean_env.setenv("ANALYTICS_DATASET", "raw")
    clean_env.setenv("ANALYTICS_POOL", "")
    clean_env.setenv("ANALYTICS_TASK_RETRIES", "5")
    clean_env.setenv("ANALYTICS_RETRY_DELAY_SECONDS", "90")
    config = FactoryConfig.from_env()
    assert config.spec_path == "/specs/mine.yaml"
    assert config.analytics_conn_id == "my_api"
    assert config.destination_conn_id == "warehouse"
    assert config.dataset_name == "raw"
    assert config.pool is None
    assert config.retries == 5
    assert config.retry_delay == timedelta(seconds=90)


def test_build_dags_passes_config_to_every_load_task() -> None:
    config = FactoryConfig(
        spec_path=str(CUSTOM_SPEC),
        analytics_conn_id="my_api",
        destination_conn_id="warehouse",
        dataset_name="raw",
        pool="api_pool",
        retries=0,
        tags=("custom",),
    )
    dags = build_dags(config)
    assert sorted(dags) == ["custom_orgs", "custom_users"]
    for dag in dags.values():
        assert set(dag.tags) == {"custom"}
        assert dag.default_args["retries"] == 0
        for name, task in _load_tasks(dag).items():
            assert _partial(task, "resource") == name
            assert _partial(task, "spec_path") == str(CUSTOM_SPEC)
            assert _partial(task, "analytics_conn_id") == "my_api"
            assert _partial(task, "destination_conn_id") == "warehouse"
            assert _partial(task, "dataset_name") == "raw"
            assert _partial(task, "pool") == "api_pool"
