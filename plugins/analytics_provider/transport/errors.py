"""The errors a failed or unparsable response becomes: `HTTPError`s (so dlt's retrying session sees
their status) with a friendly, key-free message."""

from __future__ import annotations

from requests import HTTPError, Response

from analytics_provider.exceptions import AnalyticsApiError


class AnalyticsHTTPError(AnalyticsApiError, HTTPError):
    """A failed response, as an `HTTPError` carrying the response: dlt's retrying session sees its
    status (and `Retry-After`) and retries it when the status is retryable; past the budget the
    friendly, key-free message is what the task fails with."""

    def __init__(self, message: str, response: Response, resource: str, path: str) -> None:
        super().__init__(message, status=response.status_code, resource=resource, path=path)
        self.response = response
        self.request = response.request


class NotJsonError(AnalyticsHTTPError):
    """A body that does not parse (truncated, HTML from a proxy, EDN): retried like a 5xx."""


def retry_bad_body(response: Response | None, exception: BaseException | None) -> bool:
    """Retry predicate for dlt's `Client`: a body that is not JSON is worth another attempt."""
    return isinstance(exception, NotJsonError)
