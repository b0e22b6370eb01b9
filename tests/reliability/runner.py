"""Run load tasks in a process of their own, the way an Airflow worker runs one task, so that a
test can SIGKILL it, or run several of them at once.

    python -m tests.reliability.runner CONFIG.json     # by hand
    child_main(config, env, stdout, stderr)            # what helpers.start_task forks

CONFIG: {"task": {"resource", "parent_keys"} | "chain": [resources], "context": {"start", "end",
"run_type"}, "kwargs": operator kwargs, "out": summary JSON path, "times": file for the start and
end time, "pause_at": optional point, "marker": file written when the pause point is reached,
"keep_workdirs": bool}.

Pause points (the process writes `marker`, then sleeps until it is killed):
- `load_start`: `dlt.Pipeline.load` called, nothing loaded yet;
- `before_commit`: every load job ran (rows copied to staging and merged into the final tables,
  pipeline state row inserted) but the load package is not completed (no `_dlt_loads` row);
- `after_load`: `Pipeline.load` returned (load committed), the task has not returned its summary.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _pause(marker: str) -> None:
    Path(marker).write_text("paused")
    time.sleep(600)


def _install_pause(point: str | None, marker: str | None) -> None:
    if not point:
        return
    assert marker, "a pause point needs a marker file"
    import dlt
    from dlt.load.load import Load

    if point in ("load_start", "after_load"):
        original = dlt.Pipeline.load

        @functools.wraps(original)
        def load(self: Any, *args: Any, **kwargs: Any) -> Any:
            if point == "load_start":
                _pause(marker)
            info = original(self, *args, **kwargs)
            _pause(marker)
            return info

        dlt.Pipeline.load = load  # type: ignore[method-assign]
    elif point == "before_commit":
        original_complete = Load.complete_package

        @functools.wraps(original_complete)
        def complete_package(self: Any, load_id: str, schema: Any, aborted: bool = False) -> None:
            _pause(marker)
            original_complete(self, load_id, schema, aborted)

        Load.complete_package = complete_package  # type: ignore[method-assign]
    else:
        raise ValueError(f"unknown pause point {point!r}")


class _KeptTemporaryDirectory(tempfile.TemporaryDirectory):  # type: ignore[type-arg]
    """A TemporaryDirectory that is left in place (as after a SIGKILL), so a test can scan what a run wrote."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._finalizer.detach()  # type: ignore[attr-defined]  # else garbage collection removes it

    def __exit__(self, *exc: object) -> None:
        pass

    def cleanup(self) -> None:
        pass


def run(config: dict[str, Any]) -> Any:
    from datetime import datetime

    _install_pause(config.get("pause_at"), config.get("marker"))
    if config.get("keep_workdirs"):
        tempfile.TemporaryDirectory = _KeptTemporaryDirectory  # type: ignore[misc]

    from analytics_provider.operators.load import AnalyticsLoadOperator
    from analytics_provider.testing.chain import run_chain, task_context

    ctx = config.get("context") or {}
    start, end = ctx.get("start"), ctx.get("end")
    context = task_context(
        datetime.fromisoformat(start) if start else None,
        datetime.fromisoformat(end) if end else None,
        ctx.get("run_type", "scheduled"),
    )
    kwargs = config.get("kwargs") or {}
    if "task" in config:
        task = config["task"]
        op = AnalyticsLoadOperator(
            task_id=task.get("task_id", task["resource"]),
            resource=task["resource"],
            parent_keys=task.get("parent_keys"),
            **kwargs,
        )
        return op.execute(context)
    return run_chain(config["chain"], context, **kwargs)


def _finish(config: dict[str, Any]) -> None:
    started = time.time()
    result = run(config)
    if config.get("out"):
        Path(config["out"]).write_text(json.dumps(result, default=str))
    if config.get("times"):
        Path(config["times"]).write_text(json.dumps({"start": started, "end": time.time()}))


def child_main(config: dict[str, Any], env: dict[str, str], stdout: str, stderr: str) -> None:
    """Entry of a task process forked from the preloaded forkserver: take the test's environment
    now (connections, destination path), send fds 1 and 2 to files, run."""
    os.environ.clear()
    os.environ.update(env)
    tempfile.tempdir = None  # the forkserver's imports may have cached TMPDIR: read it again
    for fd, path in ((1, stdout), (2, stderr)):
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(handle, fd)
        os.close(handle)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    try:
        _finish(config)
    except BaseException:
        import traceback

        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    sys.stdout.flush()
    sys.stderr.flush()


def main(argv: list[str]) -> int:
    _finish(json.loads(Path(argv[1]).read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
