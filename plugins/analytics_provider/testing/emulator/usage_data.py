"""What a usage export holds: one row per finished job run of an org, with its credits.

The columns are those of CircleCI's usage export CSV (upper-case headers, as the service writes
them); credits follow the job's resource class and run time, so they agree with the jobs the API
serves (same ids, names, times and statuses).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .model import DAY_MS, Job, Org, fmt_s

if TYPE_CHECKING:
    from .state import EmulatorState

COLUMNS = (
    "ORGANIZATION_ID",
    "ORGANIZATION_NAME",
    "PROJECT_ID",
    "PROJECT_NAME",
    "VCS_NAME",
    "VCS_URL",
    "VCS_BRANCH",
    "PIPELINE_ID",
    "PIPELINE_CREATED_AT",
    "PIPELINE_NUMBER",
    "PIPELINE_TRIGGER_SOURCE",
    "WORKFLOW_ID",
    "WORKFLOW_NAME",
    "JOB_NAME",
    "JOB_ID",
    "JOB_RUN_NUMBER",
    "JOB_RUN_DATE",
    "JOB_RUN_STARTED_AT",
    "JOB_RUN_STOPPED_AT",
    "JOB_BUILD_STATUS",
    "RESOURCE_CLASS",
    "OPERATING_SYSTEM",
    "EXECUTOR",
    "PARALLELISM",
    "JOB_RUN_SECONDS",
    "COMPUTE_CREDITS",
    "DLC_CREDITS",
    "USER_CREDITS",
    "STORAGE_CREDITS",
    "NETWORK_CREDITS",
    "TOTAL_CREDITS",
)
CREDITS_PER_MINUTE = {"small": 5, "medium": 10, "medium+": 15, "large": 20, "xlarge": 40, "2xlarge": 80}
MAX_JOB_LAG_MS = 2 * DAY_MS
"""A job starts at most this long after its pipeline was created (the scan looks back this far)."""


def usage_rows(state: EmulatorState, org: Org, start_ms: int, end_ms: int) -> list[dict[str, Any]]:
    """The export's rows: jobs of ``org`` started in ``[start, end]`` (both inclusive, as the API
    says) and stopped by ``now``, oldest first. Values typed (ints, ISO strings, ``None``)."""
    with state.lock:
        jobs = [
            job
            for job in _org_jobs(state, org, start_ms - MAX_JOB_LAG_MS, end_ms + 1)
            if job.started_ms is not None
            and start_ms <= job.started_ms <= end_ms
            and job.stopped_ms is not None
            and job.stopped_ms <= state.now_ms
        ]
        jobs.sort(key=lambda j: (j.started_ms or 0, j.id))
        return [usage_row(job) for job in jobs]


def _org_jobs(state: EmulatorState, org: Org, since_ms: int, until_ms: int) -> Iterator[Job]:
    for p in state.iter_pipelines(since_ms, until_ms):
        if p.project.org.id != org.id:
            continue
        for wf in state.visible_workflows(p):
            for job in wf.jobs:
                if not job.is_approval:
                    yield job


def usage_row(job: Job) -> dict[str, Any]:
    wf, tp = job.workflow, job.template
    p = wf.pipeline
    project = p.project
    assert job.started_ms is not None and job.stopped_ms is not None
    seconds = max(0, (job.stopped_ms - job.started_ms) // 1000)
    compute = math.ceil(seconds / 60) * CREDITS_PER_MINUTE.get(tp.resource_class, 10) * tp.parallelism
    digest = int(hashlib.sha256(job.id.encode()).hexdigest()[:8], 16)
    dlc = 200 if digest % 7 == 0 else 0
    storage = digest % 5
    network = (digest // 5) % 3
    return {
        "organization_id": project.org.id,
        "organization_name": project.org.name,
        "project_id": project.id,
        "project_name": project.name,
        "vcs_name": "github" if project.vcs_url.startswith("https://github.com") else "circleci",
        "vcs_url": project.vcs_url,
        "vcs_branch": p.branch,
        "pipeline_id": p.id,
        "pipeline_created_at": fmt_s(p.created_ms),
        "pipeline_number": p.number,
        "pipeline_trigger_source": p.trigger_type,
        "workflow_id": wf.id,
        "workflow_name": wf.name,
        "job_name": tp.name,
        "job_id": job.id,
        "job_run_number": job.number,
        "job_run_date": fmt_s(job.started_ms)[:10],
        "job_run_started_at": fmt_s(job.started_ms),
        "job_run_stopped_at": fmt_s(job.stopped_ms),
        "job_build_status": job.status_override or job.final_status,
        "resource_class": tp.resource_class,
        "operating_system": "linux",
        "executor": tp.executor_type,
        "parallelism": tp.parallelism,
        "job_run_seconds": seconds,
        "compute_credits": compute,
        "dlc_credits": dlc,
        "user_credits": 0,
        "storage_credits": storage,
        "network_credits": network,
        "total_credits": compute + dlc + storage + network,
    }


def gzipped_csv(rows: list[dict[str, Any]]) -> bytes:
    """One export file: a header line, then the rows (``None`` as an empty field), gzipped."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(["" if row[c.lower()] is None else row[c.lower()] for c in COLUMNS])
    return gzip.compress(text.getvalue().encode("utf-8"), mtime=0)
