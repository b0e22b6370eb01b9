"""The `refresh_views` task in the generated DAGs: after every load, not hiding a failed one."""

from __future__ import annotations

import json

import pytest
from airflow.sdk.exceptions import AirflowSkipException

from analytics_provider.dag_factory import FactoryConfig, build_dags
from analytics_provider.views.task import refresh_views_task


def test_every_dag_refreshes_the_views_after_all_its_loads() -> None:
    for dag in build_dags(FactoryConfig(dataset_name="ci", destination_conn_id="wh")).values():
        refresh = dag.get_task("refresh_views")
        others = [t for t in dag.tasks if t.task_id != "refresh_views"]
        assert refresh.trigger_rule == "none_failed", "a failed load fails the run; skipped batches do not"
        assert refresh.python_callable is refresh_views_task
        assert refresh.op_kwargs == {"destination_conn_id": "wh", "dataset_name": "ci"}
        assert refresh.downstream_task_ids == set()
        leaves = {t.task_id for t in others if t.downstream_task_ids <= {"refresh_views"}}
        assert refresh.upstream_task_ids == leaves and leaves
        # every load is upstream of it, directly or through its children
        assert {t.task_id for t in refresh.get_flat_relatives(upstream=True)} == {t.task_id for t in others}


def test_views_can_be_left_out() -> None:
    for dag in build_dags(FactoryConfig(views=False)).values():
        assert "refresh_views" not in dag.task_ids


def test_a_destination_without_a_views_dialect_skips_the_task(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_LAKE", json.dumps({"conn_type": "bigquery", "host": "example"}))
    with pytest.raises(AirflowSkipException, match="not for destination `bigquery`; set ANALYTICS_VIEWS=false"):
        refresh_views_task("lake", "analytics")
