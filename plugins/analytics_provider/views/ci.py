"""The SELECTs of the CI-metric views over the seed tables (`workflow`, `workflow_jobs`, `jobs`,
`pipelines`, `specific_project`). Each takes the dialect and `t`, which qualifies a table name."""

from __future__ import annotations

from collections.abc import Callable

from analytics_provider.views.dialects import Dialect

Table = Callable[[str], str]

WORKFLOW_COLUMNS = ("id", "pipeline_id", "name", "project_slug", "status", "created_at", "stopped_at")
PIPELINE_COLUMNS = ("id", "vcs__branch")
JOB_COLUMNS = (
    "project_slug", "number", "name", "status", "duration", "created_at", "queued_at", "started_at", "stopped_at",
    "pipeline__id", "latest_workflow__name",
)  # fmt: skip
WORKFLOW_JOB_COLUMNS = ("id", "workflow_id", "type", "status", "stopped_at", "project_slug", "job_number", "_dlt_id")
PROJECT_COLUMNS = ("slug", "vcs_info__default_branch")

FAILED = "('failed', 'error')"
"""Workflow statuses that count as a failure (canceled, unauthorized and not_run do not)."""


def workflow_daily(d: Dialect, t: Table) -> str:
    return f"""
WITH runs AS (
    SELECT w.project_slug, p.vcs__branch AS branch, w.name AS workflow, {d.day("w.created_at")} AS day,
           w.status, w.stopped_at, {d.seconds("w.stopped_at", "w.created_at")} AS duration_seconds,
           ROW_NUMBER() OVER (PARTITION BY w.pipeline_id, w.name ORDER BY w.created_at, w.id) AS attempt
    FROM {t("workflow")} w LEFT JOIN {t("pipelines")} p ON p.id = w.pipeline_id
)
SELECT project_slug, branch, workflow, day,
       COUNT(*) AS runs,
       COUNT(stopped_at) AS finished,
       COUNT(*) FILTER (WHERE status = 'success') AS successes,
       COUNT(*) FILTER (WHERE status IN {FAILED}) AS failures,
       {d.ratio("COUNT(*) FILTER (WHERE status = 'success')", "COUNT(stopped_at)")} AS success_rate,
       {d.percentile(0.5, "duration_seconds")} AS duration_p50_seconds,
       {d.percentile(0.95, "duration_seconds")} AS duration_p95_seconds,
       COUNT(*) FILTER (WHERE attempt > 1) AS reruns
FROM runs
GROUP BY project_slug, branch, workflow, day"""


def job_daily(d: Dialect, t: Table) -> str:
    queue = d.seconds("j.started_at", "j.queued_at")
    return f"""
WITH runs AS (
    SELECT j.project_slug, p.vcs__branch AS branch, j.latest_workflow__name AS workflow, j.name AS job,
           {d.day("j.created_at")} AS day, j.status, j.stopped_at,
           CAST(j.duration AS DOUBLE PRECISION) / 1000 AS duration_seconds, {queue} AS queue_seconds
    FROM {t("jobs")} j LEFT JOIN {t("pipelines")} p ON p.id = j.pipeline__id
)
SELECT project_slug, branch, workflow, job, day,
       COUNT(*) AS runs,
       COUNT(*) FILTER (WHERE status = 'success') AS successes,
       {d.ratio("COUNT(*) FILTER (WHERE status = 'success')", "COUNT(stopped_at)")} AS success_rate,
       {d.percentile(0.5, "duration_seconds")} AS duration_p50_seconds,
       {d.percentile(0.95, "duration_seconds")} AS duration_p95_seconds,
       AVG(queue_seconds) AS queue_mean_seconds,
       {d.percentile(0.5, "queue_seconds")} AS queue_p50_seconds,
       {d.percentile(0.95, "queue_seconds")} AS queue_p95_seconds
FROM runs
GROUP BY project_slug, branch, workflow, job, day"""


def approval_daily(d: Dialect, t: Table) -> str:
    """The API serves no approval time: a hold is pending from when the last job it depends on
    stopped (or the workflow was created) until the first job depending on it was queued."""
    deps = t("workflow_jobs__dependencies")
    return f"""
WITH approvals AS (
    SELECT a.id, a.workflow_id, a.status, a._dlt_id FROM {t("workflow_jobs")} a WHERE a.type = 'approval'
),
requested AS (
    SELECT ap.id, MAX(up.stopped_at) AS requested_at
    FROM approvals ap
    JOIN {deps} dep ON dep._dlt_parent_id = ap._dlt_id
    JOIN {t("workflow_jobs")} up ON up.id = dep.value
    GROUP BY ap.id
),
released AS (
    SELECT dep.value AS approval_id, MIN(j.queued_at) AS approved_at
    FROM {deps} dep
    JOIN {t("workflow_jobs")} down ON down._dlt_id = dep._dlt_parent_id
    JOIN {t("jobs")} j ON j.project_slug = down.project_slug AND j.number = down.job_number
    GROUP BY dep.value
),
waits AS (
    SELECT w.project_slug, p.vcs__branch AS branch, w.name AS workflow, {d.day("w.created_at")} AS day, ap.status,
           {d.seconds("rel.approved_at", "COALESCE(req.requested_at, w.created_at)")} AS wait_seconds
    FROM approvals ap
    JOIN {t("workflow")} w ON w.id = ap.workflow_id
    LEFT JOIN {t("pipelines")} p ON p.id = w.pipeline_id
    LEFT JOIN requested req ON req.id = ap.id
    LEFT JOIN released rel ON rel.approval_id = ap.id
)
SELECT project_slug, branch, workflow, day,
       COUNT(*) AS approvals,
       COUNT(*) FILTER (WHERE status = 'success') AS approved,
       COUNT(*) FILTER (WHERE status = 'on_hold') AS waiting,
       {d.percentile(0.5, "wait_seconds")} AS wait_p50_seconds,
       {d.percentile(0.95, "wait_seconds")} AS wait_p95_seconds,
       MAX(wait_seconds) AS wait_max_seconds
FROM waits
GROUP BY project_slug, branch, workflow, day"""


def default_branch_recovery(d: Dialect, t: Table) -> str:
    """Finished runs on the default branch in the order they stopped; an incident starts at a failed
    run whose predecessor succeeded (or that has none) and ends at the next successful run."""
    return f"""
WITH runs AS (
    SELECT w.project_slug, sp.vcs_info__default_branch AS branch, w.name AS workflow, w.id, w.status, w.stopped_at,
           ROW_NUMBER() OVER (PARTITION BY w.project_slug, w.name ORDER BY w.stopped_at, w.id) AS seq
    FROM {t("workflow")} w
    JOIN {t("pipelines")} p ON p.id = w.pipeline_id
    JOIN {t("specific_project")} sp ON sp.slug = w.project_slug AND sp.vcs_info__default_branch = p.vcs__branch
    WHERE w.stopped_at IS NOT NULL AND (w.status = 'success' OR w.status IN {FAILED})
),
marked AS (
    SELECT r.*, LAG(r.status) OVER (PARTITION BY r.project_slug, r.workflow ORDER BY r.seq) AS previous_status
    FROM runs r
),
incidents AS (
    SELECT * FROM marked WHERE status <> 'success' AND (previous_status IS NULL OR previous_status = 'success')
),
recovered AS (
    SELECT i.project_slug, i.workflow, i.seq, MIN(r.seq) AS recovered_seq
    FROM incidents i
    JOIN runs r ON r.project_slug = i.project_slug AND r.workflow = i.workflow
        AND r.status = 'success' AND r.seq > i.seq
    GROUP BY i.project_slug, i.workflow, i.seq
)
SELECT i.project_slug, i.branch, i.workflow, {d.day("i.stopped_at")} AS day,
       i.id AS failed_workflow_id, i.stopped_at AS failed_at,
       ok.id AS recovered_workflow_id, ok.stopped_at AS recovered_at,
       {d.seconds("ok.stopped_at", "i.stopped_at")} AS recovery_seconds
FROM incidents i
LEFT JOIN recovered rc ON rc.project_slug = i.project_slug AND rc.workflow = i.workflow AND rc.seq = i.seq
LEFT JOIN runs ok ON ok.project_slug = i.project_slug AND ok.workflow = i.workflow AND ok.seq = rc.recovered_seq"""


def default_branch_recovery_daily(d: Dialect, t: Table) -> str:
    return f"""
SELECT project_slug, branch, workflow, day,
       COUNT(*) AS incidents,
       COUNT(recovered_at) AS recovered,
       AVG(recovery_seconds) AS recovery_mean_seconds,
       {d.percentile(0.5, "recovery_seconds")} AS recovery_p50_seconds,
       MAX(recovery_seconds) AS recovery_max_seconds
FROM ({default_branch_recovery(d, t)}
) incidents
GROUP BY project_slug, branch, workflow, day"""
