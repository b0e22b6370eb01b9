"""The emulator's mutable state: the world, lazily built segments, indexes and ``now``.

Segment ``k`` holds the pipelines created in ``[start + k days, start + (k+1) days)`` where
``start = now0 - days``. Segments are built on first use and kept (mutations live in them).
Segments past ``now0`` exist too; :meth:`EmulatorState.advance` only moves ``now`` and so
reveals them. A pipeline is visible once ``created_at < now``, a workflow once
``created_at <= now`` (a re-run made by ``finish`` is created at ``now``). Every public
method takes the state's lock.
"""

from __future__ import annotations

import gc
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from typing import Any

from . import operations, truth
from .generator import World, generate_segment, segment_counts, segment_of_id
from .model import DAY_MS, JOB_BLOCK, Job, Org, Pipeline, Project, Segment, Workflow


class EmulatorState:
    """Ground truth of the emulated service.

    :param seed: seed of all generated data.
    :param days: length of the history before ``now_ms``, in days.
    :param now_ms: the initial "now", epoch milliseconds.
    :param scale: multiplies the number of pipelines a day (1.0: about 45 a working day, fewer at weekends).
    """

    def __init__(self, seed: int, days: int, now_ms: int, scale: float) -> None:
        if days < 1:
            raise ValueError(f"`days` must be at least 1, got {days}")
        if scale <= 0:
            raise ValueError(f"`scale` must be positive, got {scale}")
        self.lock = threading.RLock()
        self.seed, self.days, self.scale = seed, days, scale
        self.now0_ms = now_ms
        self.now_ms = now_ms
        self.start_ms = now_ms - days * DAY_MS
        self.world = World(seed, now_ms)
        self.segments: dict[int, Segment] = {}
        self._counts: list[list[int]] = []
        #: _firsts[k][p]: number of project p's first pipeline in segment k
        self._firsts: list[list[int]] = [[p.number_base for p in self.world.projects]]
        self.pipelines_by_id: dict[str, Pipeline] = {}
        self.workflows_by_id: dict[str, Workflow] = {}
        self.jobs_by_number: dict[tuple[str, int], Job] = {}
        self.rerun_pipelines: set[str] = set()
        #: v1.1 knobs (EmulatorConfig.v11_branches / v11_sunset)
        self.v11_branches = False
        self.v11_sunset = False

    # -- segments -------------------------------------------------------------------------
    def segment_of(self, ms: int) -> int:
        return (ms - self.start_ms) // DAY_MS

    @property
    def last_segment(self) -> int:
        """The segment holding the newest visible pipeline (visible: created before ``now``)."""
        return self.segment_of(self.now_ms - 1)

    def counts(self, k: int) -> list[int]:
        """Pipelines per project in segment ``k`` (computed without building it)."""
        with self.lock:
            return self._extend_counts(k)

    def _extend_counts(self, k: int) -> list[int]:
        while len(self._counts) <= k:
            n = len(self._counts)
            start = self.start_ms + n * DAY_MS
            recent = n == self.days - 1
            self._counts.append(segment_counts(self.seed, self.scale, n, start, self.world.weights, recent))
            self._firsts.append([a + b for a, b in zip(self._firsts[n], self._counts[n], strict=True)])
        return self._counts[k]

    def first_numbers(self, k: int) -> list[int]:
        self.counts(k)
        return self._firsts[k]

    def segment(self, k: int) -> Segment:
        """Segment ``k``, built and indexed on first use."""
        with self.lock:
            seg = self.segments.get(k)
            if seg is None:
                start = self.start_ms + k * DAY_MS
                gc_was_on = gc.isenabled()
                gc.disable()  # tens of thousands of long-lived objects: collections would only slow this
                try:
                    seg = generate_segment(
                        self.world, self.seed, k, start, self.counts(k), self.first_numbers(k), k == self.days - 1
                    )
                finally:
                    if gc_was_on:
                        gc.enable()
                self.segments[k] = seg
                for p in seg.pipelines:
                    self.index_pipeline(p)
            return seg

    def index_pipeline(self, p: Pipeline) -> None:
        self.pipelines_by_id[p.id] = p
        for wf in p.workflows:
            self.index_workflow(wf)

    def index_workflow(self, wf: Workflow) -> None:
        self.workflows_by_id[wf.id] = wf
        pid = wf.pipeline.project.id
        for job in wf.jobs:
            self.jobs_by_number[(pid, job.number)] = job

    def segments_between(self, since_ms: int, until_ms: int) -> range:
        """Indexes of the visible segments that may hold pipelines created in the span."""
        lo = max(0, self.segment_of(since_ms))
        hi = min(self.last_segment, self.segment_of(until_ms - 1))
        return range(hi, lo - 1, -1)

    # -- lookups --------------------------------------------------------------------------
    def org(self, slug_or_id: str) -> Org | None:
        return self.world.org_by_slug.get(slug_or_id) or self.world.org_by_id.get(slug_or_id)

    def project(self, slug: str) -> Project | None:
        return self.world.project_by_slug.get(slug.strip("/"))

    def pipeline(self, pipeline_id: str) -> Pipeline | None:
        with self.lock:
            p = self._by_id(self.pipelines_by_id, pipeline_id)
            return p if p is not None and p.created_ms < self.now_ms else None

    def workflow(self, workflow_id: str) -> Workflow | None:
        with self.lock:
            wf = self._by_id(self.workflows_by_id, workflow_id)
            return wf if wf is not None and wf.created_ms <= self.now_ms else None

    def _by_id(self, index: dict[str, Any], uid: str) -> Any:
        uid = uid.lower()
        if uid not in index:
            k = segment_of_id(uid)
            if k is None or not 0 <= k <= self.last_segment:
                return None
            self.segment(k)
        return index.get(uid)

    def job(self, project: Project, number: int) -> Job | None:
        """The job ``number`` of ``project`` if it has started by ``now``."""
        with self.lock:
            if number < 1:
                return None
            pipeline_number = (number - 1) // JOB_BLOCK
            last = self.last_segment
            self.counts(last)
            firsts = [f[project.index] for f in self._firsts[: last + 2]]
            k = bisect_right(firsts, pipeline_number) - 1
            if not 0 <= k <= last:
                return None
            self.segment(k)
            job = self.jobs_by_number.get((project.id, number))
            if job is None or job.workflow.created_ms > self.now_ms or job.is_approval:
                return None
            return job if job.started_ms is not None and job.started_ms <= self.now_ms else None

    # -- lists ----------------------------------------------------------------------------
    def org_pipelines_page(
        self, org: Org, after: tuple[int, str] | None, size: int
    ) -> tuple[list[Pipeline], tuple[int, str] | None]:
        """One page of ``org``'s visible pipelines, newest first, strictly older than ``after``."""
        with self.lock:
            now_key = (self.now_ms, "")
            top = now_key if after is None else min(after, now_key)
            k = min(self.last_segment, self.segment_of(top[0]))
            out: list[Pipeline] = []
            while k >= 0:
                keys, items = self.segment(k).by_org[org.id]
                hi = bisect_left(keys, now_key)
                if after is not None:
                    hi = min(hi, bisect_left(keys, after))
                out.extend(reversed(items[max(0, hi - (size + 1 - len(out))) : hi]))
                if len(out) > size or (len(out) == size and self._org_count_before(org, k) > 0):
                    return out[:size], out[size - 1].key
                k -= 1
            return out, None

    def _org_count_before(self, org: Org, k: int) -> int:
        firsts = self.first_numbers(k)
        return sum(firsts[p.index] - p.number_base for p in org.projects)

    def iter_pipelines(self, since_ms: int | None = None, until_ms: int | None = None) -> Iterator[Pipeline]:
        """Visible pipelines of every org with ``since <= created_at < until``, newest first."""
        since = self.start_ms if since_ms is None else since_ms
        until = self.now_ms if until_ms is None else min(until_ms, self.now_ms)
        with self.lock:
            for k in self.segments_between(since, until):
                for p in reversed(self.segment(k).pipelines):
                    if since <= p.created_ms < until:
                        yield p

    def visible_workflows(self, p: Pipeline) -> list[Workflow]:
        """Workflows of ``p`` created by ``now`` (a re-run may be created at ``now``), newest first."""
        wfs = [w for w in p.workflows if w.created_ms <= self.now_ms]
        wfs.sort(key=lambda w: (w.created_ms, w.id), reverse=True)
        return wfs

    # -- operations (see operations.py / truth.py) -------------------------------------------
    def mutate(self, resource: str, count: int = 1) -> dict[str, Any]:
        """Change ``count`` records of ``resource`` deterministically; returns their ids."""
        with self.lock:
            return operations.mutate(self, resource, count)

    def advance(self, minutes: float) -> dict[str, Any]:
        """Move ``now`` forward: new pipelines appear, running work progresses."""
        with self.lock:
            return operations.advance(self, minutes)

    def finish(self) -> dict[str, Any]:
        """Finish all open work, approve pending approvals, re-run one failed workflow."""
        with self.lock:
            return operations.finish(self)

    def truth(self, resource: str, since: str | None = None, until: str | None = None) -> list[dict[str, Any]]:
        """Rows of ``resource`` as the API serves them, children annotated with parent ids."""
        with self.lock:
            return truth.rows(self, resource, since, until)
