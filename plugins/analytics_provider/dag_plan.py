"""The shape of each DAG, from the spec: which load tasks, in what order, and how each gets its keys.

Plain data (testable without Airflow), said once here and read by `dag_factory.build_dag` (which
renders it) and `testing/chain.py` (which runs it without a scheduler).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from analytics_provider.config.model import DagSpec, ResourceSpec, Spec

TaskShape = Literal["root", "fetches_parent", "reads_parent_output", "batched"]


@dataclass(frozen=True)
class TaskPlan:
    """One load task: which resource, which upstream supplies its keys, how keys are batched."""

    resource: str
    table: str
    parent: str | None = None
    batch_size: int | None = None
    """None: not mapped (a root). 0: one batch with every key (incremental child)."""
    doc: str = ""
    fetches: str | None = None
    """The parent whose rows the task reads from the API itself (`fetch_parent`): no upstream task."""

    @property
    def shape(self) -> TaskShape:
        """How the task gets its keys, said once here for `build_dag` and `testing/chain.py`:
        `root` (none), `fetches_parent` (reads its parent's rows from the API itself),
        `reads_parent_output` (one task with every key its parent's loads recorded: an incremental
        child, a single writer of its cursors) or `batched` (mapped over a plan task's batches, or
        inside a mapped group)."""
        if self.fetches:
            return "fetches_parent"
        if self.parent is None:
            return "root"
        return "reads_parent_output" if self.batch_size == 0 else "batched"

    @property
    def reads_keys_itself(self) -> bool:
        """A child that is one task with every key: it reads them from its parent's output."""
        return self.shape == "reads_parent_output"


@dataclass(frozen=True)
class DagPlan:
    dag_id: str
    schedule: str
    description: str
    tasks: tuple[TaskPlan, ...] = field(default_factory=tuple)
    assets: tuple[str, ...] = ()
    """Tables whose update starts a run (asset-aware scheduling) instead of `schedule`."""

    def subtree(self, resource: str) -> list[TaskPlan]:
        """`resource` and the tasks below it that load per batch of it, parents first. It stops at an
        incremental child: that is one task after every batch (a single writer of its cursors)."""
        names = {resource}
        for t in self.tasks:  # parents come first, so one pass finds every descendant
            if t.parent in names and not t.reads_keys_itself:
                names.add(t.resource)
        return [t for t in self.tasks if t.resource in names]

    def fan_outs(self) -> dict[str, list[TaskPlan]]:
        """Subtrees mapped over one plan task's batches, by their top child: every batched child of a
        task that is not mapped itself."""
        mapped: set[str] = set()
        fan_outs: dict[str, list[TaskPlan]] = {}
        for t in self.tasks:
            if t.shape != "batched" or t.parent in mapped:
                continue
            fan_outs[t.resource] = self.subtree(t.resource)
            mapped.update(m.resource for m in fan_outs[t.resource])
        return fan_outs


def render_plans(spec: Spec) -> list[DagPlan]:
    """Plain plans (testable without Airflow): tasks in an order where parents come first."""
    plans = []
    for dag in spec.dags:
        ordered = _parents_first(spec, dag)
        tasks = tuple(task_plan(spec.resource(name)) for name in ordered)
        plans.append(DagPlan(dag.dag_id, dag.schedule, dag.description, tasks, dag.assets))
    return plans


def task_plan(resource: ResourceSpec) -> TaskPlan:
    if resource.fetch_parent:  # a root of the DAG: its keys come with its own requests
        return TaskPlan(resource.name, resource.table, None, None, resource.description, fetches=resource.parent)
    if resource.parent is None:
        batch = None
    elif resource.incremental is not None:
        batch = 0
    else:
        batch = resource.batch_size
    return TaskPlan(resource.name, resource.table, resource.parent, batch, resource.description)


def _parents_first(spec: Spec, dag: DagSpec) -> list[str]:
    ordered: list[str] = []

    def visit(name: str) -> None:
        resource = spec.resource(name)
        parent = resource.parent
        if resource.fetch_parent and parent not in dag.resources:
            parent = None  # read from the API by the task itself: its loader sits in another DAG
        if parent is not None and parent not in ordered:
            visit(parent)
        if name not in ordered:
            ordered.append(name)

    for name in dag.resources:
        visit(name)
    return ordered
