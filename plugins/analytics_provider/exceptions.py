"""The provider's errors: one for a bad spec, one for a failed call to the API."""

from __future__ import annotations


class SpecError(ValueError):
    """The resource spec is invalid. `path` names the offending key, e.g. `resources[3].endpoint`."""

    def __init__(self, source: str, path: str, message: str) -> None:
        self.source = source
        self.path = path
        super().__init__(f"{source}: {path}: {message}")


class AnalyticsApiError(Exception):
    """A call to the analytics API failed. The message never contains the API key."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        resource: str | None = None,
        path: str | None = None,
    ) -> None:
        self.status = status
        self.resource = resource
        self.path = path
        super().__init__(message)


class AnalyticsAuthError(AnalyticsApiError):
    """401/403: the key is missing, wrong or lacks access. Retrying will not help."""
