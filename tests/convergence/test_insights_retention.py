"""`workflow_runs` respects the insights' 90-day window: a backfill older than it says so (task log
and XCom summary) instead of loading nothing silently; a window inside it loads the runs."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from analytics_provider.testing.chain import run_chain, task_context
from tests.conftest import EMULATOR_NOW
from tests.reliability.helpers import iso

pytestmark = pytest.mark.integration

CHAIN = ["projects", "insights_workflows", "workflow_runs"]


def test_a_backfill_older_than_the_insights_window_says_so(
    emulator: Any, api_connection: str, duckdb_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    start, end = EMULATOR_NOW - timedelta(days=120), EMULATOR_NOW - timedelta(days=100)
    out = run_chain(CHAIN, task_context(), start=iso(start), end=iso(end))
    summary = out["workflow_runs"][0]
    assert summary["served_since"] and summary["rows"] == {}, "nothing loaded, and the summary says why"
    logged = capsys.readouterr()
    assert "the API keeps only 90 days" in logged.out + logged.err


def test_a_window_inside_the_insights_window_loads_runs_without_the_flag(
    emulator: Any, api_connection: str, duckdb_path: Path
) -> None:
    out = run_chain(CHAIN, task_context(EMULATOR_NOW - timedelta(days=2), EMULATOR_NOW))
    summary = out["workflow_runs"][0]
    assert "served_since" not in summary and summary["rows"]["workflow_runs"] > 0
