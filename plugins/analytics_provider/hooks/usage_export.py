"""The usage export job's three calls through the hook's session: create, read status, download.

Downloads use the same retrying, redacting session as every other call, but never send the API
key: a download URL is pre-signed (it is the credential) and may point at another host.
"""

from __future__ import annotations

from typing import Any

from analytics_provider.exceptions import AnalyticsApiError
from analytics_provider.hooks.analytics_api import AnalyticsApiHook


class DownloadUrlExpired(AnalyticsApiError):
    """A pre-signed download URL was refused as expired (HTTP 403)."""


class UsageExportClient:
    """:param hook: the connection's hook; its session is made on first use."""

    def __init__(self, hook: AnalyticsApiHook) -> None:
        self.hook = hook
        self._session: Any = None

    @property
    def session(self) -> Any:
        if self._session is None:
            self._session = self.hook.get_conn()
        return self._session

    def _url(self, org_id: str, job_id: str | None = None) -> str:
        base = f"{self.hook.get_settings().base_url}/v2/organizations/{org_id}/usage_export_job"
        return base if job_id is None else f"{base}/{job_id}"

    def create(self, org_id: str, start: str, end: str) -> dict[str, Any]:
        response = self.session.post(self._url(org_id), json={"start": start, "end": end})
        what = f"Usage export of org `{org_id}` for [{start}, {end}]"
        if response.status_code in (401, 403):
            self.hook.check_response(response, what)
        if response.status_code != 201:
            redact = self.hook.get_settings().redact
            raise AnalyticsApiError(
                f"{what}: HTTP {response.status_code} from POST {redact(response.url)}: {redact(response.text[:300])}",
                status=response.status_code,
            )
        return response.json()

    def status(self, org_id: str, job_id: str) -> dict[str, Any]:
        response = self.session.get(self._url(org_id, job_id))
        self.hook.check_response(response, f"Usage export `{job_id}` of org `{org_id}`")
        return response.json()

    def download(self, url: str) -> bytes:
        """The file's bytes (gunzipped by the caller). Raises :class:`DownloadUrlExpired` on 403."""
        settings = self.hook.get_settings()
        drop = {settings.auth_name: None}  # requests drops None-valued session headers and params
        response = self.session.get(url, headers=drop, params=drop if settings.auth_location == "query" else None)
        where = url.split("?", 1)[0]  # the signature stays out of logs and errors
        if response.status_code == 403:
            raise DownloadUrlExpired(f"Usage export file {where}: HTTP 403 (URL expired or refused)", status=403)
        if not response.ok:
            status = response.status_code
            raise AnalyticsApiError(f"Usage export file {where}: HTTP {status}", status=status)
        return response.content
