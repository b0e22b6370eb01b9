"""The views' numbers computed in Python from the emulator's truth (the served objects), without SQL."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

FAILED = {"failed", "error"}
FINAL_JOBS = {
    "success",
    "failed",
    "retried",
    "infrastructure_fail",
    "timedout",
    "terminated-unknown",
    "canceled",
    "unauthorized",
    "not_run",
}  # fmt: skip  (the `jobs` resource's only_if: what the loads keep)


def ts(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


def day(value: str) -> date:
    return ts(value).date()  # type: ignore[union-attr]


def seconds(end: str | None, start: str | None) -> float | None:
    if end is None or start is None:
        return None
    return (ts(end) - ts(start)).total_seconds()  # type: ignore[operator]


def pcont(values: Iterable[float | None], fraction: float) -> float | None:
    """Continuous percentile with linear interpolation between closest ranks (SQL percentile_cont)."""
    xs = sorted(v for v in values if v is not None)
    if not xs:
        return None
    rank = (len(xs) - 1) * fraction
    low = int(rank)
    high = min(low + 1, len(xs) - 1)
    return xs[low] + (xs[high] - xs[low]) * (rank - low)


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


class Truth:
    """The rows the loads of one window keep, as the emulator serves them."""

    def __init__(self, emulator: Any, since: str, until: str, loaded_jobs: set[tuple[str, int]] | None = None) -> None:
        """`loaded_jobs`: the (project_slug, number) of the job details the loads kept (which jobs get
        details is the loads' policy, checked in tests/operators); by default the final ones."""
        self.emulator = emulator
        self.pipelines = {p["id"]: p for p in emulator.truth("pipelines", since=since, until=until)}
        self.workflows = [w for w in emulator.truth("pipeline_workflows") if w["pipeline_id"] in self.pipelines]
        workflow_ids = {w["id"] for w in self.workflows}
        self.workflow_jobs = [j for j in emulator.truth("workflow_jobs") if j["workflow_id"] in workflow_ids]
        loaded = {
            (j["project_slug"], j["job_number"])
            for j in self.workflow_jobs
            if j.get("job_number") is not None and j["status"] in FINAL_JOBS
        }
        if loaded_jobs is not None:
            served = {(j["project_slug"], j["number"]) for j in emulator.truth("jobs")}
            assert loaded_jobs <= served, f"job details the API does not serve: {loaded_jobs - served}"
            loaded = loaded_jobs
        self.jobs = [j for j in emulator.truth("jobs") if (j["project_slug"], j["number"]) in loaded]
        self.default_branch = {p["slug"]: p["vcs_info"]["default_branch"] for p in emulator.truth("specific_project")}

    def branch(self, pipeline_id: str) -> str | None:
        return self.pipelines[pipeline_id]["vcs"].get("branch")

    def workflow_daily(self) -> dict[tuple[Any, ...], tuple[Any, ...]]:
        groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
        for w in self.workflows:
            groups[(w["project_slug"], self.branch(w["pipeline_id"]), w["name"], day(w["created_at"]))].append(w)
        out = {}
        for key, runs in groups.items():
            finished = [w for w in runs if w["stopped_at"] is not None]
            ok = sum(w["status"] == "success" for w in runs)
            durations = [seconds(w["stopped_at"], w["created_at"]) for w in finished]
            # from the emulator's own records: which workflows are re-runs of another
            reruns = sum(self.emulator.state.workflow(w["id"]).rerun_of is not None for w in runs)
            out[key] = (
                len(runs), len(finished), ok, sum(w["status"] in FAILED for w in runs), ratio(ok, len(finished)),
                pcont(durations, 0.5), pcont(durations, 0.95), reruns,
            )  # fmt: skip
        return out

    def job_daily(self) -> dict[tuple[Any, ...], tuple[Any, ...]]:
        groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
        for j in self.jobs:
            branch = self.branch(j["pipeline"]["id"])
            groups[(j["project_slug"], branch, j["latest_workflow"]["name"], j["name"], day(j["created_at"]))].append(j)
        out = {}
        for key, runs in groups.items():
            ok = sum(j["status"] == "success" for j in runs)
            durations = [None if j["duration"] is None else j["duration"] / 1000 for j in runs]
            queues = [seconds(j["started_at"], j["queued_at"]) for j in runs]
            out[key] = (
                len(runs), ok, ratio(ok, sum(j["stopped_at"] is not None for j in runs)),
                pcont(durations, 0.5), pcont(durations, 0.95),
                sum(queues) / len(queues), pcont(queues, 0.5), pcont(queues, 0.95),
            )  # fmt: skip
        return out

    def approval_daily(self) -> dict[tuple[Any, ...], tuple[Any, ...]]:
        workflows = {w["id"]: w for w in self.workflows}
        by_id = {j["id"]: j for j in self.workflow_jobs}
        details = {(j["project_slug"], j["number"]): j for j in self.jobs}
        groups: dict[tuple[Any, ...], list[tuple[str, float | None]]] = defaultdict(list)
        for a in self.workflow_jobs:
            if a["type"] != "approval":
                continue
            w = workflows[a["workflow_id"]]
            ups = [by_id[d]["stopped_at"] for d in a["dependencies"] if by_id[d]["stopped_at"] is not None]
            requested = max(ups, key=ts) if ups else w["created_at"]
            queued = [
                details[(j["project_slug"], j["job_number"])]["queued_at"]
                for j in self.workflow_jobs
                if a["id"] in j["dependencies"] and (j["project_slug"], j.get("job_number")) in details
            ]
            wait = seconds(min(queued, key=ts), requested) if queued else None
            key = (w["project_slug"], self.branch(w["pipeline_id"]), w["name"], day(w["created_at"]))
            groups[key].append((a["status"], wait))
        out = {}
        for key, items in groups.items():
            waits = [wait for _, wait in items]
            known = [x for x in waits if x is not None]
            out[key] = (
                len(items), sum(s == "success" for s, _ in items), sum(s == "on_hold" for s, _ in items),
                pcont(waits, 0.5), pcont(waits, 0.95), max(known) if known else None,
            )  # fmt: skip
        return out

    def default_branch_recovery(self) -> dict[tuple[Any, ...], tuple[Any, ...]]:
        """Keyed by the failed run that opened the incident."""
        series: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for w in self.workflows:
            on_default = self.branch(w["pipeline_id"]) == self.default_branch.get(w["project_slug"], object())
            if on_default and w["stopped_at"] is not None and (w["status"] == "success" or w["status"] in FAILED):
                series[(w["project_slug"], w["name"])].append(w)
        out = {}
        for (project, name), runs in series.items():
            runs.sort(key=lambda w: (ts(w["stopped_at"]), w["id"]))
            opened = None
            for previous, w in zip([None, *runs], runs, strict=False):
                if w["status"] != "success" and (previous is None or previous["status"] == "success"):
                    opened = w
                    out[(project, self.default_branch[project], name, day(w["stopped_at"]), w["id"])] = [
                        ts(w["stopped_at"]), None, None, None,
                    ]  # fmt: skip
                elif w["status"] == "success" and opened is not None:
                    key = (project, self.default_branch[project], name, day(opened["stopped_at"]), opened["id"])
                    out[key][1:] = [w["id"], ts(w["stopped_at"]), seconds(w["stopped_at"], opened["stopped_at"])]
                    opened = None
        return {k: tuple(v) for k, v in out.items()}

    def approval_wait_errors(self) -> list[float]:
        """For each granted approval: the view's wait (as approval_daily derives it from the served
        objects) minus the emulator's own record of it (approved - ready), in seconds."""
        by_id = {j["id"]: j for j in self.workflow_jobs}
        details = {(j["project_slug"], j["number"]): j for j in self.jobs}
        errors = []
        for a in self.workflow_jobs:
            if a["type"] != "approval" or a["status"] != "success":
                continue
            ups = [by_id[d]["stopped_at"] for d in a["dependencies"] if by_id[d]["stopped_at"] is not None]
            w = next(w for w in self.workflows if w["id"] == a["workflow_id"])
            queued = [
                details[(j["project_slug"], j["job_number"])]["queued_at"]
                for j in self.workflow_jobs
                if a["id"] in j["dependencies"] and (j["project_slug"], j.get("job_number")) in details
            ]
            if not queued:
                continue
            derived = seconds(min(queued, key=ts), max(ups, key=ts) if ups else w["created_at"])
            job = next(j for j in self.emulator.state.workflow(w["id"]).jobs if j.id == a["id"])
            errors.append(derived - (job.approved_ms - job.ready_ms) / 1000)  # type: ignore[operator]
        return errors

    def default_branch_recovery_daily(self) -> dict[tuple[Any, ...], tuple[Any, ...]]:
        groups: dict[tuple[Any, ...], list[float | None]] = defaultdict(list)
        for key, (_, _, _, recovery) in self.default_branch_recovery().items():
            groups[key[:4]].append(recovery)
        out = {}
        for key, values in groups.items():
            known = [v for v in values if v is not None]
            mean = sum(known) / len(known) if known else None
            out[key] = (len(values), len(known), mean, pcont(known, 0.5), max(known) if known else None)
        return out
