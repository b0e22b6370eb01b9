"""The LocalExecutor variant: its workers fork with what every load task imports already imported."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest

from analytics_provider.executors import local
from analytics_provider.executors.local import PRELOADED, AnalyticsLocalExecutor, preload


def test_preload_imports_what_a_load_task_needs_in_a_fresh_interpreter() -> None:
    probe = (
        "import json, sys\n"
        "from analytics_provider.executors.local import PRELOADED, preload\n"
        "before = [m for m in PRELOADED if m in sys.modules]\n"
        "preload()\n"
        "print(json.dumps({'before': before, 'after': [m for m in PRELOADED if m in sys.modules]}))\n"
    )
    seen = json.loads(subprocess.run([sys.executable, "-c", probe], capture_output=True, check=True, text=True).stdout)
    assert "dlt" not in seen["before"], "the executor module itself must not import dlt"
    assert seen["after"] == list(PRELOADED)


def test_a_module_that_fails_to_import_is_left_to_the_task(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(local, "PRELOADED", ("analytics_provider.no_such_module",))
    with caplog.at_level(logging.WARNING, logger=local.__name__):
        preload()
    assert "Could not preload analytics_provider.no_such_module" in caplog.text


def test_it_is_the_local_executor_in_every_other_respect() -> None:
    from airflow.executors.local_executor import LocalExecutor

    assert issubclass(AnalyticsLocalExecutor, LocalExecutor)
    assert {name for name in vars(AnalyticsLocalExecutor) if not name.startswith("__")} == {"start"}
