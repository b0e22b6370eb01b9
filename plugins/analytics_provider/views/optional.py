"""Views over tables that only some deployments load (flaky tests from insights, credits from the
usage export): created only when their table and columns exist (catalog.ViewDef.requires)."""

from __future__ import annotations

from collections.abc import Callable

from analytics_provider.views.dialects import Dialect

Table = Callable[[str], str]

FLAKY_COLUMNS = (
    "project_slug", "workflow_name", "job_name", "classname", "test_name", "times_flaked", "time_wasted",
    "workflow_created_at",
)  # fmt: skip
"""The fields of `/v2/insights/{project-slug}/flaky-tests` items, plus the carried `project_slug`."""
USAGE_COLUMNS = ("project_name", "vcs_branch", "workflow_name", "job_run_date", "total_credits", "compute_credits")
"""The usage export's CSV columns, lower-cased as dlt names them."""


def flaky_tests(d: Dialect, t: Table) -> str:
    return f"""
SELECT project_slug, workflow_name AS workflow, job_name AS job, classname, test_name,
       SUM(times_flaked) AS times_flaked,
       SUM(CAST(time_wasted AS DOUBLE PRECISION)) AS time_wasted_seconds,
       COUNT(*) AS flaky_runs,
       MAX(workflow_created_at) AS last_flaked_at
FROM {t("flaky_tests")}
GROUP BY project_slug, workflow_name, job_name, classname, test_name"""


def credits_daily(d: Dialect, t: Table) -> str:
    return f"""
SELECT project_name AS project, vcs_branch AS branch, workflow_name AS workflow, CAST(job_run_date AS DATE) AS day,
       COUNT(*) AS jobs,
       SUM(CAST(total_credits AS DOUBLE PRECISION)) AS total_credits,
       SUM(CAST(compute_credits AS DOUBLE PRECISION)) AS compute_credits
FROM {t("usage")}
GROUP BY project_name, vcs_branch, workflow_name, CAST(job_run_date AS DATE)"""
