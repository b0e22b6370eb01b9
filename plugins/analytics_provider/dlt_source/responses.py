"""Response handling shared by every resource: counting, key-free errors, 404-as-empty, one JSON parse;
the request counts in words for the task log."""

from __future__ import annotations

import codecs
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from dlt.sources.helpers.rest_client.exceptions import IgnoreResponseException
from requests import Response
from requests.exceptions import JSONDecodeError

from analytics_provider.dlt_source.deprecation import DeprecationNotices
from analytics_provider.dlt_source.progress import Progress, page_rows
from analytics_provider.exceptions import AnalyticsAuthError
from analytics_provider.hooks.analytics_api import ApiSettings, is_v3_path
from analytics_provider.transport.errors import AnalyticsHTTPError, NotJsonError


class RequestStats:
    """Thread-safe counts of responses by status, for the task summary."""

    def __init__(self, progress: Progress | None = None) -> None:
        self._lock = threading.Lock()
        self.by_status: Counter[int] = Counter()
        self.not_found_as_empty = 0
        self.progress = progress

    def count(self, status: int, rows: int = 0) -> None:
        with self._lock:
            self.by_status[status] += 1
            if self.progress is not None:
                self.progress.note(status, rows)

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


def make_response_hook(
    resource: str,
    settings: ApiSettings,
    stats: RequestStats,
    not_found_empty: bool,
    endpoint: str = "",
    on_body: Callable[[Any], None] | None = None,
) -> Callable[..., Any]:
    """A `requests` response hook: raises our errors before dlt's (which may print the key), and
    reports a deprecated `endpoint` once (deprecation.py). `on_body` sees each parsed body before
    dlt does (the incremental cursor's parsing)."""
    notices = DeprecationNotices(resource, endpoint)

    def hook(response: Response, *args: Any, **kwargs: Any) -> Response:
        notices.check(response)
        if response.status_code >= 400:
            stats.count(response.status_code)
        path = settings.redact(response.request.path_url if response.request else response.url)
        if response.status_code == 404 and not_found_empty:
            with stats._lock:
                stats.not_found_as_empty += 1
            raise IgnoreResponseException
        if response.status_code in (401, 403):
            raise AnalyticsAuthError(
                settings.key_refused(f"Resource `{resource}`", response.status_code, f"GET {path}"),
                status=response.status_code,
                resource=resource,
                path=path,
            )
        if response.status_code == 404 and is_v3_path(path):
            raise AnalyticsHTTPError(
                f"Resource `{resource}`: HTTP 404 for GET {path}: this host serves no API v3 (CircleCI Server "
                f"does not). Set extra `api_version` of Airflow connection `{settings.conn_id}` to `v2`.",
                response,
                resource,
                path,
            )
        if response.status_code >= 400:
            body = settings.redact(response.text[:300])
            raise AnalyticsHTTPError(
                f"Resource `{resource}`: HTTP {response.status_code} for GET {path} (retries exhausted or not "
                f"retryable): {body}",
                response,
                resource,
                path,
            )
        try:
            parsed = _parse_json_once(response, resource, path, settings)
        except NotJsonError:
            stats.count(response.status_code)
            raise
        if on_body is not None:
            on_body(parsed)
        stats.count(response.status_code, page_rows(parsed))
        return response

    return hook


def _parse_json_once(response: Response, resource: str, path: str, settings: ApiSettings) -> Any:
    """Parse the body now (dlt reads `.json()` twice per page) and fail clearly if it is not JSON."""
    try:
        parsed = _decode(response)
    except (JSONDecodeError, ValueError):
        head = settings.redact(response.text[:120])
        raise NotJsonError(
            f"Resource `{resource}`: GET {path} answered HTTP {response.status_code} with a body that is not "
            f"valid JSON ({len(response.content)} bytes, content type "
            f"`{response.headers.get('Content-Type', '?')}`), starting: {head!r}",
            response,
            resource,
            path,
        ) from None
    response.json = lambda **_: parsed  # type: ignore[method-assign]
    return parsed


def _decode(response: Response) -> Any:
    """orjson on the raw bytes when they are UTF-8, as the API sends them (requests' `simplejson`
    was a large share of the extract: BENCHMARKS.md, session 3); another declared charset, or what orjson
    refuses (integers past 64 bits), gets requests' own decoder, so what parsed before still parses."""
    if response.encoding and codecs.lookup(response.encoding).name != "utf-8":
        return response.json()
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return response.json()


def requests_text(by_status: Mapping[int, int], fetched: int = 0) -> str:
    """`6 requests (HTTP 200: 6)`: statuses that add up to the total, requests for a fetched parent
    (counted without statuses) named on their own."""
    total = sum(by_status.values()) + fetched
    parts = [f"HTTP {status}: {count}" for status, count in sorted(by_status.items())]
    if fetched:
        parts.append(f"{fetched} for the parent's rows")
    return f"{total} requests" + (f" ({', '.join(parts)})" if parts else "")
