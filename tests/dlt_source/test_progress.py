"""Progress lines of a running extraction, in the operator's real log, against the emulator."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from analytics_provider.dlt_source.progress import Progress, page_rows, progress_interval
from analytics_provider.operators.load import AnalyticsLoadOperator
from analytics_provider.testing.chain import task_context
from tests.conftest import EMULATOR_NOW

LINE = re.compile(r"`pipelines` in progress: (\d+) pages, (\d+) rows, (\d+) requests in \d+s \([\d.]+ requests/s\)")


def test_rows_of_a_page() -> None:
    assert page_rows({"items": [1, 2, 3], "next_page_token": None}) == 3
    assert page_rows({"id": "x"}) == 1
    assert page_rows([1, 2]) == 2


def test_interval_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANALYTICS_PROGRESS_SECONDS", "soon")
    with pytest.raises(ValueError, match="ANALYTICS_PROGRESS_SECONDS must be a number of seconds, got `soon`"):
        progress_interval()
    monkeypatch.delenv("ANALYTICS_PROGRESS_SECONDS")
    assert progress_interval() == 30.0


def test_eta_from_the_parent_keys_left() -> None:
    progress = Progress("jobs", parent_keys=100, interval=3600)
    for _ in range(10):
        progress.note(200, rows=1)
    line = progress.line(progress.started + 5.0)  # 10 requests in 5 s: 90 keys at 2/s
    assert line == (
        "`jobs` in progress: 10 pages, 10 rows, 10 requests in 5s (2.0 requests/s), 100 parent keys: at least 45s left"
    )


@pytest.mark.integration
def test_progress_lines_count_what_the_emulator_served(
    emulator: Any,
    api_connection: str,
    duckdb_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With interval 0 every answered request writes a line: the last one's pages and rows are the
    emulator's pages and pipelines; with the default interval a load this short writes none."""
    caplog.set_level(logging.INFO, logger="analytics_provider.dlt_source.progress")
    monkeypatch.setenv("ANALYTICS_PROGRESS_SECONDS", "0")
    window = {"start": (EMULATOR_NOW - timedelta(days=3)).isoformat(), "end": EMULATOR_NOW.isoformat()}
    emulator.reset_stats()
    summary = AnalyticsLoadOperator(task_id="pipelines", resource="pipelines", **window).execute(task_context())
    lines = [m.groups() for m in map(LINE.search, caplog.messages) if m]
    served = emulator.stats()["routes"]["GET /v2/pipeline"]
    assert len(lines) == served > 1
    pages, rows, requests = map(int, lines[-1])
    assert pages == requests == served
    assert rows >= summary["rows"]["pipelines"] > 0  # the last page reaches past the window start

    monkeypatch.delenv("ANALYTICS_PROGRESS_SECONDS")
    caplog.clear()
    AnalyticsLoadOperator(task_id="pipelines", resource="pipelines", **window).execute(task_context())
    assert not [line for line in caplog.messages if LINE.search(line)]
