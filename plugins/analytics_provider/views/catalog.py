"""The views: what each is called, what it means, which tables and columns it needs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from analytics_provider.views import ci, optional
from analytics_provider.views.dialects import Dialect

Builder = Callable[[Dialect, Callable[[str], str]], str]
"""(dialect, table name -> qualified name) -> the view's SELECT."""


@dataclass(frozen=True)
class ViewDef:
    name: str
    description: str
    requires: Mapping[str, tuple[str, ...]]
    """Tables and the columns of each the view reads: it is created only when all exist."""
    build: Builder

    def missing(self, columns: Mapping[str, set[str]]) -> list[str]:
        """What the dataset lacks for this view (`table` or `table.column`); empty: it can be created."""
        out: list[str] = []
        for table, needed in self.requires.items():
            have = columns.get(table)
            if have is None:
                out.append(table)
            else:
                out.extend(f"{table}.{c}" for c in needed if c not in have)
        return out


VIEWS: tuple[ViewDef, ...] = (
    ViewDef(
        "ci_workflow_daily",
        "Workflow runs per project, branch, workflow and UTC day of creation: runs, finished, successes, "
        "failures, success rate (of finished runs), duration p50/p95 (created -> stopped, seconds), reruns.",
        {"workflow": ci.WORKFLOW_COLUMNS, "pipelines": ci.PIPELINE_COLUMNS},
        ci.workflow_daily,
    ),
    ViewDef(
        "ci_job_daily",
        "Jobs (details) per project, branch, workflow, job name and UTC day of creation: runs, successes, "
        "success rate, duration p50/p95 and queue time (queued -> started) mean/p50/p95, in seconds.",
        {"jobs": ci.JOB_COLUMNS, "pipelines": ci.PIPELINE_COLUMNS},
        ci.job_daily,
    ),
    ViewDef(
        "ci_approval_daily",
        "Approval jobs per project, branch, workflow and UTC day of the workflow: approvals, approved, "
        "waiting, and approval wait p50/p95/max (hold pending -> first job after it queued, seconds).",
        {
            "workflow_jobs": ci.WORKFLOW_JOB_COLUMNS,
            "workflow_jobs__dependencies": ("value", "_dlt_parent_id"),
            "workflow": ci.WORKFLOW_COLUMNS,
            "jobs": ("project_slug", "number", "queued_at"),
            "pipelines": ci.PIPELINE_COLUMNS,
        },
        ci.approval_daily,
    ),
    ViewDef(
        "ci_default_branch_recovery",
        "Each time a workflow went red on its project's default branch: when (first failed run stopped), "
        "when it was green again (next successful run stopped) and the time to recovery in seconds "
        "(NULL while still red); one row per incident, with its UTC day.",
        {"workflow": ci.WORKFLOW_COLUMNS, "pipelines": ci.PIPELINE_COLUMNS, "specific_project": ci.PROJECT_COLUMNS},
        ci.default_branch_recovery,
    ),
    ViewDef(
        "ci_default_branch_recovery_daily",
        "ci_default_branch_recovery per project, default branch, workflow and UTC day the incident opened: "
        "incidents, recovered, time to recovery mean/p50/max (seconds, of the recovered ones).",
        {"workflow": ci.WORKFLOW_COLUMNS, "pipelines": ci.PIPELINE_COLUMNS, "specific_project": ci.PROJECT_COLUMNS},
        ci.default_branch_recovery_daily,
    ),
    ViewDef(
        "ci_flaky_tests",
        "Flaky tests per project, workflow, job and test (from insights' flaky tests): times flaked, "
        "time wasted (seconds), workflows in which they flaked, last flaked at. Only when `flaky_tests` is loaded.",
        {"flaky_tests": ("project_slug", "_dlt_id"), "flaky_tests__flaky_tests": optional.FLAKY_COLUMNS},
        optional.flaky_tests,
    ),
    ViewDef(
        "ci_test_daily",
        "Test results per project, workflow, job, test (classname and name) and UTC day the job started: "
        "jobs that ran it, results, passed, failed, skipped, failure rate (of passed + failed), jobs in which "
        "it failed and passed (flaky), mean run time in seconds (of results not skipped). Only when "
        "`job_tests` is loaded.",
        {
            "job_tests": optional.TEST_COLUMNS,
            "jobs": ("project_slug", "number", "name", "started_at", "latest_workflow__name"),
        },
        optional.test_daily,
    ),
    ViewDef(
        "ci_credits_daily",
        "Credits per project, branch, workflow and day (from the usage export): jobs, total credits, "
        "compute credits. Only when `usage` is loaded.",
        {"usage": optional.USAGE_COLUMNS},
        optional.credits_daily,
    ),
)


def view(name: str) -> ViewDef:
    for v in VIEWS:
        if v.name == name:
            return v
    raise KeyError(f"no view `{name}`; views: {', '.join(v.name for v in VIEWS)}")
