"""The typed resource spec: what the YAML says, after validation.

Everything here is plain data (frozen dataclasses of str, int, tuples and dicts), cheap to build at
DAG-parse time and importing neither dlt nor requests.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from analytics_provider.config.keys import template_fields

WriteDisposition = Literal["merge", "append", "replace"]
AuthLocation = Literal["header", "query"]
NotFound = Literal["fail", "empty"]
KEYS_PREFIX = "_analytics_keys_"
"""A parent's keys table: what its loads record of each row for its children (child_keys.py)."""


def keys_table(parent_table: str) -> str:
    return f"{KEYS_PREFIX}{parent_table}"


@dataclass(frozen=True)
class AuthSpec:
    name: str = "api_key"
    location: AuthLocation = "header"


@dataclass(frozen=True)
class PaginatorSpec:
    """`cursor`: the next page's token is read at `cursor_path` and sent as `cursor_param`."""

    type: Literal["cursor", "single_page"] = "cursor"
    cursor_param: str = "page-token"
    cursor_path: str = "next_page_token"


@dataclass(frozen=True)
class ErrorHandlerSpec:
    retry_on_status_codes: tuple[int, ...] = (429,)
    max_retries: int = 3
    backoff_factor: float = 2.0
    max_retry_delay: float = 60.0

    @property
    def max_attempts(self) -> int:
        """Attempts including the first one: 3 retries are 4 attempts."""
        return self.max_retries + 1


@dataclass(frozen=True)
class ClientSpec:
    base_url: str
    headers: dict[str, str] = field(default_factory=dict)
    auth: AuthSpec = AuthSpec()
    paginator: PaginatorSpec = PaginatorSpec()
    error_handler: ErrorHandlerSpec = ErrorHandlerSpec()


@dataclass(frozen=True)
class EndpointSpec:
    path: str
    params: dict[str, str] = field(default_factory=dict)
    data_selector: str | None = None
    """JSONPath of the records; None (the seed's `[]`) means the whole response."""
    not_found: NotFound = "fail"
    paginator: PaginatorSpec | None = None
    """None inherits the client's paginator."""

    def placeholders(self) -> set[str]:
        """Names of the `{placeholders}` in the path and the param values; dlt's own
        `{incremental.start_value}` (an incremental resource's window start) is not one."""
        names: set[str] = set()
        for text in (self.path, *self.params.values()):
            names.update(f for _, f, _, _ in string.Formatter().parse(text) if f and not f.startswith("incremental."))
        return names


@dataclass(frozen=True)
class IncrementalSpec:
    cursor_path: str
    row_order: Literal["asc", "desc"] | None = None
    lookback: timedelta = timedelta(0)
    initial_lookback: timedelta = timedelta(days=1)
    retention: timedelta | None = None
    """How far back the API serves these rows (insights: 90 days); a window starting earlier is
    logged and flagged in the summary instead of loading nothing silently."""


@dataclass(frozen=True)
class RefreshSpec:
    """Re-read children of parents whose children were not final at the last load.

    After a scheduled run of the parent, the parents to re-read are: those created within
    `lookback` (catches re-runs of finished children), and those owning a row of `table` whose
    `status_column` is not in `final` and that is younger than `max_age`."""

    table: str
    parent_column: str
    final: tuple[str, ...]
    status_column: str = "status"
    created_column: str = "created_at"
    lookback: timedelta = timedelta(hours=24)
    max_age: timedelta = timedelta(days=90)
    orphan_max_age: timedelta = timedelta(days=7)
    """How long a parent with no child row at all is re-read (a run that died after loading it)."""


@dataclass(frozen=True)
class ResourceSpec:
    name: str
    endpoint: EndpointSpec
    primary_key: tuple[str, ...]
    """Empty only with a `merge_key` (rows that carry no identity, e.g. test results)."""
    write_disposition: WriteDisposition = "merge"
    merge_key: tuple[str, ...] = ()
    """dlt's merge key: a load first deletes every row whose merge-key values it brings, then
    inserts its rows: a replace per parent (all test results of a job) that keeps rows the same
    key lists twice."""
    description: str = ""
    parent: str | None = None
    bind: dict[str, str] = field(default_factory=dict)
    """Placeholder -> parent field name, or a template of parent fields (`{a|filter}/{b}`)."""
    carry: tuple[str, ...] = ()
    """Bound placeholders written into each child row as columns of the same name."""
    only_if: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    """Parent field -> allowed values: only parent rows that match become parents of this child."""
    incremental: IncrementalSpec | None = None
    refresh: RefreshSpec | None = None
    skip_loaded: dict[str, str] = field(default_factory=dict)
    """Child column -> key name: keys whose row is already in this resource's table are not fetched
    (not for an `incremental` child, which reads the new rows of every key on each run)."""
    skip_final: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    """With `skip_loaded`: column -> final values. A key is skipped only when every loaded row of
    it has a final value there; an unfinished record is fetched again on each run until final."""
    org_field: str | None = None
    """Field holding an org slug: when a run or the connection names orgs, other rows are dropped."""
    columns: dict[str, dict[str, Any]] = field(default_factory=dict)
    table_name: str | None = None
    batch_size: int = 200
    fetch_parent: bool = False
    """Read the parent's rows from the API in this resource's own task (the parent must be a root
    list that is not incremental; this child is then one task with every key) instead of from what
    the parent's task loaded: the task does not wait for the parent's task, which may even sit in
    another DAG."""
    fields: dict[str, str] = field(default_factory=dict)
    """Column -> dotted path into each record (`attributes.name`): when given, each record becomes
    exactly these columns (API v3 nests its fields under `attributes` and `references`)."""
    api_v3: ResourceSpec | None = None
    """The same resource read from API v3, for connections whose `api_version` is `v3`: same table,
    primary key and task shape, another endpoint."""

    @property
    def table(self) -> str:
        return self.table_name or self.name

    @property
    def keys_table(self) -> str:
        """Where this resource's loads record what its children need of each row."""
        return keys_table(self.table)

    @property
    def reads(self) -> list[str]:
        """Fields of a parent row that this child binds or filters on (`only_if`), in that order."""
        names = [name for expr in self.bind.values() for name, _ in template_fields(expr)]
        return list(dict.fromkeys([*names, *self.only_if]))

    def for_api(self, version: str) -> ResourceSpec:
        """The variant a connection of `version` reads: the `api_v3` one on v3 when there is one."""
        return self.api_v3 if version == "v3" and self.api_v3 is not None else self


@dataclass(frozen=True)
class DagSpec:
    dag_id: str
    schedule: str
    """A preset, a cron expression or `every <duration>`; empty when `assets` start the DAG."""
    resources: tuple[str, ...]
    description: str = ""
    assets: tuple[str, ...] = ()
    """Tables whose update (an asset event of the task that loads them) starts a run."""


@dataclass(frozen=True)
class Spec:
    source_file: Path
    client: ClientSpec
    resources: dict[str, ResourceSpec]
    dags: tuple[DagSpec, ...] = ()

    def resource(self, name: str) -> ResourceSpec:
        try:
            return self.resources[name]
        except KeyError:
            known = ", ".join(sorted(self.resources))
            raise KeyError(f"{self.source_file}: no resource `{name}`; known: {known}") from None

    def children(self, name: str) -> list[ResourceSpec]:
        return [r for r in self.resources.values() if r.parent == name]

    def dag_of(self, name: str) -> DagSpec | None:
        return next((d for d in self.dags if name in d.resources), None)
