"""Views over tables that only some deployments load (flaky tests from insights, credits from the
usage export): created only when their table and columns exist (catalog.ViewDef.requires)."""

from __future__ import annotations

from collections.abc import Callable

from analytics_provider.views.dialects import Dialect

Table = Callable[[str], str]

FLAKY_COLUMNS = (
    "workflow_name", "job_name", "classname", "test_name", "times_flaked", "time_wasted", "workflow_created_at",
    "_dlt_parent_id",
)  # fmt: skip
"""The fields of `/v2/insights/{project-slug}/flaky-tests` items the view reads, in the nested table
`flaky_tests__flaky_tests` (the parent `flaky_tests` holds one row per project)."""
TEST_COLUMNS = ("project_slug", "job_number", "classname", "name", "result", "run_time")
"""The fields of `/v2/project/{project-slug}/{job-number}/tests` items the view reads, plus the carried keys."""
USAGE_COLUMNS = ("project_name", "vcs_branch", "workflow_name", "job_run_date", "total_credits", "compute_credits")
"""The usage export's CSV columns, lower-cased as dlt names them."""


def flaky_tests(d: Dialect, t: Table) -> str:
    return f"""
SELECT p.project_slug, f.workflow_name AS workflow, f.job_name AS job, f.classname, f.test_name,
       SUM(f.times_flaked) AS times_flaked,
       SUM(CAST(f.time_wasted AS DOUBLE PRECISION)) AS time_wasted_seconds,
       COUNT(*) AS flaky_runs,
       MAX(f.workflow_created_at) AS last_flaked_at
FROM {t("flaky_tests")} p
JOIN {t("flaky_tests__flaky_tests")} f ON f._dlt_parent_id = p._dlt_id
GROUP BY p.project_slug, f.workflow_name, f.job_name, f.classname, f.test_name"""


def test_daily(d: Dialect, t: Table) -> str:
    """A test retried in one job (a failure, then a success) counts as one flaky job."""
    return f"""
WITH per_job AS (
    SELECT r.project_slug, j.latest_workflow__name AS workflow, j.name AS job, r.classname, r.name AS test_name,
           {d.day("j.started_at")} AS day,
           COUNT(*) AS results,
           COUNT(*) FILTER (WHERE r.result = 'success') AS passed,
           COUNT(*) FILTER (WHERE r.result = 'failure') AS failed,
           COUNT(*) FILTER (WHERE r.result = 'skipped') AS skipped,
           SUM(CAST(r.run_time AS DOUBLE PRECISION)) AS run_time_seconds
    FROM {t("job_tests")} r
    JOIN {t("jobs")} j ON j.project_slug = r.project_slug AND j.number = r.job_number
    GROUP BY r.project_slug, j.latest_workflow__name, j.name, r.classname, r.name, {d.day("j.started_at")},
             r.job_number
)
SELECT project_slug, workflow, job, classname, test_name, day,
       COUNT(*) AS jobs,
       SUM(results) AS results,
       SUM(passed) AS passed,
       SUM(failed) AS failed,
       SUM(skipped) AS skipped,
       {d.ratio("SUM(failed)", "SUM(passed) + SUM(failed)")} AS failure_rate,
       COUNT(*) FILTER (WHERE passed > 0 AND failed > 0) AS flaky_jobs,
       {d.ratio("SUM(run_time_seconds)", "SUM(results) - SUM(skipped)")} AS run_time_mean_seconds
FROM per_job
GROUP BY project_slug, workflow, job, classname, test_name, day"""


def credits_daily(d: Dialect, t: Table) -> str:
    return f"""
SELECT project_name AS project, vcs_branch AS branch, workflow_name AS workflow, CAST(job_run_date AS DATE) AS day,
       COUNT(*) AS jobs,
       SUM(CAST(total_credits AS DOUBLE PRECISION)) AS total_credits,
       SUM(CAST(compute_credits AS DOUBLE PRECISION)) AS compute_credits
FROM {t("usage")}
GROUP BY project_name, vcs_branch, workflow_name, CAST(job_run_date AS DATE)"""
