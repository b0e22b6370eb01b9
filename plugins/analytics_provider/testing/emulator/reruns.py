"""A re-run of a finished workflow, as the real service makes one: a new workflow in the same pipeline."""

from __future__ import annotations

import random

from .generator import make_uuid
from .model import RERUN_SLOT, SECOND_MS, Job, Workflow


def rerun_workflow(old: Workflow, at_ms: int) -> Workflow:
    """A finished re-run of ``old`` created at ``at_ms`` (like the real service's rerun)."""
    pipeline = old.pipeline
    rng = random.Random(f"rerun:{old.id}:{at_ms}")
    at_s = at_ms // SECOND_MS * SECOND_MS
    wf = Workflow(
        make_uuid(rng, pipeline.segment), pipeline, old.name, at_s, "success", at_s, old.started_by, rerun_of=old.id
    )
    jobs: list[Job] = []
    for i, tp in enumerate(j.template for j in old.jobs):
        deps = [jobs[d].id for d in tp.deps]
        approval = tp.type == "approval"
        jobs.append(
            Job(
                make_uuid(rng, pipeline.segment),
                wf,
                tp,
                RERUN_SLOT + i,
                deps,
                at_s,
                None if approval else at_s,
                None if approval else at_s,
                at_s if approval else None,
                "success",
                None,
            )
        )
    wf.jobs = jobs
    return wf
