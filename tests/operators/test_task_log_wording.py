"""What the task log and the UI say: request counts that add up, durations in words, short labels."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from analytics_provider.dlt_source.responses import requests_text
from analytics_provider.dlt_source.window import duration
from analytics_provider.fanout.batching import LABEL_MAX, batch_label
from analytics_provider.operators.load import AnalyticsLoadOperator
from analytics_provider.testing.chain import task_context
from tests.conftest import EMULATOR_NOW

DAY = timedelta(days=1)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(days=1), "1 day"),
        (timedelta(days=7), "7 days"),
        (timedelta(hours=36), "36 h"),
        (timedelta(minutes=90), "90 min"),
        (timedelta(seconds=45), "45 s"),
        (timedelta(seconds=1.5), "1.5 s"),
    ],
)
def test_durations_read_as_words(value: timedelta, text: str) -> None:
    assert duration(value) == text


def test_request_counts_add_up() -> None:
    assert requests_text({200: 5}, fetched=1) == "6 requests (HTTP 200: 5, 1 for the parent's rows)"
    assert requests_text({429: 1, 200: 3}) == "4 requests (HTTP 200: 3, HTTP 429: 1)"
    assert requests_text({}) == "0 requests"


def test_batch_labels_stay_short() -> None:
    keys = [{"pipeline_id": str(uuid.uuid4()), "project_slug": "gh/acme/a-rather-long-repository-name"}] * 200
    label = batch_label(keys)
    assert label.startswith(f"200 keys from {keys[0]['pipeline_id'][:10]}") and len(label) <= LABEL_MAX
    assert batch_label([{"number": 7}]) == "1 keys from 7"
    assert batch_label([]) == "0 keys"


@pytest.mark.integration
def test_a_scheduled_load_logs_requests_that_add_up_and_its_lookback_in_words(
    emulator: Any, api_connection: str, duckdb_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The operator's own log lines (Airflow's task logger writes them to the output)."""
    context = task_context(EMULATOR_NOW - DAY, EMULATOR_NOW)
    summary = AnalyticsLoadOperator(task_id="pipelines", resource="pipelines").execute(context)
    lines = capsys.readouterr().out.splitlines()
    loaded = next(line for line in lines if "Loaded `pipelines`" in line)
    match = re.search(r"(\d+) requests \(HTTP 200: (\d+), (\d+) for the parent's rows\)", loaded)
    assert match, loaded
    total, ok, fetched = map(int, match.groups())
    assert total == ok + fetched == summary["requests"] and fetched == 1
    assert emulator.stats()["routes"]["GET /v2/pipeline"] == ok
    refresh = next(line for line in lines if "Refresh of `pipelines`" in line)
    assert "created in the last 1 day," in refresh and "0:00:00" not in refresh
