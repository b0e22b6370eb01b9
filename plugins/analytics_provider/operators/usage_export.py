"""Credit usage per organization through the usage export job, as a deferrable operator.

For each org and each piece (at most 31 days, the API's limit) of the run's window, one export
at a time (the API caps unfinished exports per org): POST the job, defer to
:class:`~analytics_provider.triggers.usage_export.UsageExportTrigger` (polls in the triggerer,
no worker slot held), then on resume read the job's fresh download URLs, download every file
through the hook's session and merge the rows into table ``usage`` on ``job_id``.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from analytics_provider.exceptions import AnalyticsApiError
from analytics_provider.hooks.analytics_api import AnalyticsApiHook
from analytics_provider.hooks.usage_export import DownloadUrlExpired, UsageExportClient
from analytics_provider.usage_csv import PRIMARY_KEY, column_hints, parse_file

MAX_PIECE = timedelta(days=31)
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class AnalyticsUsageExportOperator(BaseOperator):
    """:param start: / :param end: explicit window (ISO 8601, templated); default the data interval,
    else the last day. :param org_ids: comma-separated org ids (templated); default every org of the
    key (limited to the connection's `org_slugs`). :param poll_interval: seconds between status reads
    (the API allows 10 a minute per org). :param export_timeout: how long one export may take."""

    template_fields: Sequence[str] = ("start", "end", "org_ids")
    resource = "usage"
    """What it loads, named like the spec's resources (it is not one: the export job is not a REST list)."""

    def __init__(
        self,
        *,
        analytics_conn_id: str = "analytics_api_default",
        destination_conn_id: str | None = None,
        dataset_name: str = "analytics",
        table_name: str = "usage",
        start: str | None = None,
        end: str | None = None,
        org_ids: str | None = None,
        poll_interval: float = 60.0,
        export_timeout: timedelta = timedelta(hours=4),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.analytics_conn_id, self.destination_conn_id = analytics_conn_id, destination_conn_id
        self.dataset_name, self.table_name = dataset_name, table_name
        self.start, self.end, self.org_ids = start, end, org_ids
        self.poll_interval, self.export_timeout = poll_interval, export_timeout

    # -- steps --------------------------------------------------------------------------------
    def execute(self, context: Any) -> dict[str, Any]:
        start, end = self._window(context)
        client = UsageExportClient(AnalyticsApiHook(self.analytics_conn_id))
        pieces = [[org, s, e] for org in self._orgs(client) for s, e in split_window(start, end)]
        summary = {"window": [_fmt(start), _fmt(end)], "exports": [], "rows": 0}
        return self._next(client, pieces, summary)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> dict[str, Any]:
        pieces, summary = event["carry"]["pieces"], event["carry"]["summary"]
        org, s, e = pieces[0]
        job = event.get("job_id")
        what = f"Usage export `{job}` of org `{org}` for [{s}, {e}]"
        if event.get("status") == "failed":
            raise AirflowFailException(f"{what} failed: {event.get('error_reason') or 'no reason given'}")
        if event.get("status") == "timeout":
            raise AirflowException(f"{what} was not done after {self.export_timeout}; a retry starts a new export")
        if event.get("status") != "completed":
            raise AirflowException(f"{what}: {event.get('message') or event}")
        client = UsageExportClient(AnalyticsApiHook(self.analytics_conn_id))
        rows = self._download(client, org, str(job))
        loaded = self._load(rows)
        self.log.info("%s: %d rows in %d polls, load %s", what, len(rows), event.get("polls", 0), loaded)
        summary["exports"].append({"org_id": org, "start": s, "end": e, "job_id": job, "rows": len(rows)})
        summary["rows"] += len(rows)
        return self._next(client, pieces[1:], summary)

    def _next(self, client: UsageExportClient, pieces: list[list[str]], summary: dict[str, Any]) -> dict[str, Any]:
        if not pieces:
            return summary
        from analytics_provider.triggers.usage_export import UsageExportTrigger

        org, s, e = pieces[0]
        try:
            job = client.create(org, s, e)
        except AnalyticsApiError as exc:
            if exc.status == 400:  # the window breaks the API's limits: a retry cannot help
                raise AirflowFailException(str(exc)) from None
            raise
        job_id = job["usage_export_job_id"]
        self.log.info("Usage export `%s` of org `%s` for [%s, %s] created; deferring", job_id, org, s, e)
        trigger = UsageExportTrigger(
            self.analytics_conn_id,
            org,
            job_id,
            time.time() + self.export_timeout.total_seconds(),
            self.poll_interval,
            carry={"pieces": pieces, "summary": summary},
        )
        self.defer(trigger=trigger, method_name="execute_complete", timeout=self.export_timeout + timedelta(minutes=5))
        raise AssertionError("defer() returned")  # pragma: no cover - defer always raises

    def _download(self, client: UsageExportClient, org: str, job_id: str) -> list[dict[str, Any]]:
        """Every file's rows; an expired URL is re-read once from the job (fresh signatures)."""
        urls = client.status(org, job_id).get("download_urls") or []
        rows: list[dict[str, Any]] = []
        for index in range(len(urls)):
            try:
                data = client.download(urls[index])
            except DownloadUrlExpired:
                self.log.warning("Usage export `%s`: download URL %d expired; reading fresh URLs", job_id, index)
                urls = client.status(org, job_id).get("download_urls") or []
                try:
                    data = client.download(urls[index])
                except DownloadUrlExpired as exc:
                    raise AirflowException(f"{exc}; fresh URLs from the job expired too: check the clock") from None
            rows.extend(parse_file(data, f"{index + 1}/{len(urls)} of export `{job_id}`"))
        return rows

    def _load(self, rows: list[dict[str, Any]]) -> list[str]:
        from analytics_provider.dlt_runtime import configure_dlt_environment
        from analytics_provider.warehouse.destinations import resolve_destination

        configure_dlt_environment()
        import dlt

        target = resolve_destination(self.destination_conn_id)
        resource = dlt.resource(
            rows,
            name=self.table_name,
            write_disposition="merge",
            primary_key=PRIMARY_KEY,
            columns=column_hints(),
        )
        with tempfile.TemporaryDirectory(prefix="analytics_dlt_") as workdir:
            pipeline = dlt.pipeline(
                pipeline_name=f"{self.dataset_name}__{self.table_name}",
                destination=target.factory(),
                dataset_name=self.dataset_name,
                pipelines_dir=workdir,
            )
            with target.holding(self.dataset_name, pipeline):
                info = pipeline.run(resource, loader_file_format=target.file_format)
        return list(info.loads_ids)

    # -- inputs -------------------------------------------------------------------------------
    def _window(self, context: Any) -> tuple[datetime, datetime]:
        start = _parse(self.start, "start") or _ctx(context, "data_interval_start")
        end = _parse(self.end, "end") or _ctx(context, "data_interval_end")
        if end is None:
            end = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
        if start is None or start >= end:
            start = end - timedelta(days=1) if start is None else start
        if start >= end:
            raise AirflowFailException(f"Usage window [{_fmt(start)}, {_fmt(end)}): `start` must be before `end`")
        return start, end

    def _orgs(self, client: UsageExportClient) -> list[str]:
        explicit = [o.strip() for o in (self.org_ids or "").split(",") if o.strip()]
        if explicit:
            return explicit
        settings = client.hook.get_settings()
        response = client.session.get(f"{settings.base_url}/v2/me/collaborations")
        client.hook.check_response(response, "Listing the orgs of the key")
        orgs = response.json()
        wanted = set(settings.org_slugs)
        return [o["id"] for o in orgs if not wanted or o.get("slug") in wanted]


def split_window(start: datetime, end: datetime) -> list[tuple[str, str]]:
    """``[start, end)`` as export windows of at most 31 days; the API's ``end`` is inclusive, so each
    piece ends one second before the next starts."""
    pieces = []
    while start < end:
        stop = min(end, start + MAX_PIECE)
        pieces.append((_fmt(start), _fmt(stop - timedelta(seconds=1))))
        start = stop
    return pieces


def _fmt(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime(TIME_FORMAT)


def _parse(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise AirflowFailException(f"`{name}` must be an ISO 8601 timestamp, got {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _ctx(context: Any, key: str) -> datetime | None:
    value = context.get(key) if hasattr(context, "get") else None
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
