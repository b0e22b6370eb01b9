"""What memory.py's plan children run: the generated DAGs' `plan_pipeline_workflows` task callable
(`batching.plan_batch_refs`) on the DuckDB file of a `pipelines` load, in a fresh process.

It is called as Airflow calls it, with the parent's summary; its XCom pushes are serialized to
JSON the way the Task SDK sends them, and dropped. With `--plugins DIR` (a worktree of another
commit) that commit's package is imported instead: an A/B of the plan task in one run.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any


class _PushedXComs:
    """The task instance's `xcom_push`: each value serialized (as sent to the API server), counted."""

    task_id = "plan_pipeline_workflows"

    def __init__(self) -> None:
        self.pushed = 0
        self.bytes = 0

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed += 1
        self.bytes += len(json.dumps(value, default=str))


def run_plan(plugins: str | None, summary: dict[str, Any]) -> dict[str, Any]:
    if plugins:
        sys.path.insert(0, plugins)
    import airflow.sdk

    from analytics_provider.fanout import batching

    assert not plugins or batching.__file__.startswith(plugins), f"imported {batching.__file__}, not {plugins}"
    ti = _PushedXComs()
    airflow.sdk.get_current_context = lambda: {"ti": ti}  # what plan_batch_refs asks for
    started = time.monotonic()
    refs = batching.plan_batch_refs(summary, child="pipeline_workflows", batch_size=200)
    seconds = time.monotonic() - started
    return {
        "seconds": seconds,
        "batches": len(refs),
        "keys": sum(r["keys"] for r in refs),
        "pushed": ti.pushed,
        "pushed_mb": ti.bytes / 1e6,
        "refs_bytes": len(json.dumps(refs, default=str)),
    }
