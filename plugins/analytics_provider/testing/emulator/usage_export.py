"""The usage export job: ``POST /v2/organizations/{org_id}/usage_export_job`` and
``GET .../usage_export_job/{id}``, and the files it names.

A job is ``created``, then ``processing`` and, ``delay_s`` wall-clock seconds after it was
created, ``completed`` with ``files`` pre-signed download URLs (gzipped CSV served by this
emulator under ``/usage-exports/``; the URL is the credential: a download that carries the API
key is refused). The job's rows are fixed when it completes (:mod:`.usage_data`).

Limits, as the OpenAPI description and CircleCI's usage API page say: ``start`` no more than one
year before now, ``end`` no more than 31 days after ``start``; ``POST`` 10 times an hour per org
(``post_per_hour``) and ``GET`` 10 times a minute per org (``get_per_minute``, off by default so
that tests can poll fast). Unfinished exports per org are capped at ``max_active`` (429 past it;
the service publishes no number, one is the conservative reading).

Faults (``POST /_emulator/usage_export``): ``fail_next`` exports end ``failed`` with an
``error_reason``; ``expire_next`` completed exports hand out already expired URLs on their first
two completed status reads (the poller's and the downloader's: 403 ``Request has expired`` on
download; the third read signs fresh ones);
``url_ttl_s`` below 0 expires every URL.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from .model import DAY_MS, fmt_s, parse_time
from .usage_data import gzipped_csv, usage_rows

if TYPE_CHECKING:
    from .routes import Request, Response
    from .state import EmulatorState

DOWNLOAD_PREFIX = "/usage-exports/"
MAX_WINDOW_MS = 31 * DAY_MS
MAX_AGE_MS = 365 * DAY_MS
EXPIRED_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    b"<Message>Request has expired</Message></Error>"
)
SETTINGS = (
    "delay_s",
    "files",
    "url_ttl_s",
    "max_active",
    "post_per_hour",
    "get_per_minute",
    "fail_next",
    "expire_next",
)
TWO_AUTHS = b"<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed</Message></Error>"


@dataclass
class ExportSettings:
    delay_s: float = 2.0
    files: int = 2
    url_ttl_s: float = 600.0
    max_active: int = 1
    post_per_hour: int = 10
    get_per_minute: int = 0
    fail_next: int = 0
    expire_next: int = 0


@dataclass
class ExportJob:
    id: str
    org_id: str
    start_ms: int
    end_ms: int
    created_s: float
    state: str = "created"
    error_reason: str | None = None
    files: list[bytes] = field(default_factory=list)
    rows: int = 0
    fail: bool = False
    expired_reads: int = 0


class UsageExports:
    """Every export job of one emulator. Thread-safe."""

    def __init__(self, state: EmulatorState, secret: str) -> None:
        self.state = state
        self.settings = ExportSettings()
        self.jobs: dict[str, ExportJob] = {}
        self._secret = secret.encode()
        self._lock = threading.Lock()
        self._posts: dict[str, deque[float]] = {}
        self._gets: dict[str, deque[float]] = {}

    # -- control ----------------------------------------------------------------------------
    def configure(self, body: dict[str, Any]) -> dict[str, Any]:
        unknown = set(body) - set(SETTINGS)
        if unknown:
            names = ", ".join(sorted(unknown))
            raise ValueError(f"unknown usage export settings: {names}; known: {', '.join(SETTINGS)}")
        with self._lock:
            for name, value in body.items():
                kind = type(getattr(self.settings, name))
                setattr(self.settings, name, kind(value))
            return self.snapshot()

    def snapshot(self) -> dict[str, Any]:
        s = self.settings
        jobs = [{"id": j.id, "org_id": j.org_id, "state": j.state, "rows": j.rows} for j in self.jobs.values()]
        return {**{name: getattr(s, name) for name in SETTINGS}, "jobs": jobs}

    # -- API --------------------------------------------------------------------------------
    def create(self, org_id: str, body: dict[str, Any], base_url: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        """``(status, body, headers)`` of ``POST .../usage_export_job``."""
        unexpected = set(body) - {"start", "end", "shared_org_ids"}
        if unexpected or "start" not in body or "end" not in body:
            return 400, {"message": "Unexpected request body provided."}, {}
        try:
            start_ms, end_ms = parse_time(str(body["start"])), parse_time(str(body["end"]))
        except ValueError:
            return 400, {"message": "start and end must be ISO 8601 date-times."}, {}
        now_ms = self.state.now_ms
        if end_ms < start_ms:
            return 400, {"message": "end must not be before start."}, {}
        if end_ms - start_ms > MAX_WINDOW_MS:
            return 400, {"message": "end must be no more than 31 days after start."}, {}
        if start_ms < now_ms - MAX_AGE_MS:
            return 400, {"message": "start must be no more than one year ago."}, {}
        with self._lock:
            self._advance()
            active = [j for j in self.jobs.values() if j.org_id == org_id and j.state in ("created", "processing")]
            if len(active) >= self.settings.max_active:
                left = min(self.settings.delay_s - (time.monotonic() - j.created_s) for j in active)
                return 429, {"message": "Too many usage exports in progress for this organization."}, _retry(left)
            wait = _limited(self._posts, org_id, self.settings.post_per_hour, 3600.0)
            if wait is not None:
                return 429, {"message": "Rate limit exceeded."}, _retry(wait)
            job = ExportJob(str(uuid.uuid4()), org_id, start_ms, end_ms, time.monotonic())
            if self.settings.fail_next > 0:
                self.settings.fail_next -= 1
                job.fail = True
            elif self.settings.expire_next > 0:
                self.settings.expire_next -= 1
                job.expired_reads = 2
            self.jobs[job.id] = job
        row = {"usage_export_job_id": job.id, "state": job.state, "start": fmt_s(start_ms), "end": fmt_s(end_ms)}
        return 201, {**row, "download_urls": []}, {}

    def status(self, org_id: str, job_id: str, base_url: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        """``(status, body, headers)`` of ``GET .../usage_export_job/{id}``."""
        with self._lock:
            job = self.jobs.get(job_id.lower())
            if job is None or job.org_id != org_id:
                return 404, {"message": "Usage export not found."}, {}
            wait = _limited(self._gets, org_id, self.settings.get_per_minute, 60.0)
            if wait is not None:
                return 429, {"message": "Rate limit exceeded."}, _retry(wait)
            self._advance()
            body: dict[str, Any] = {"usage_export_job_id": job.id, "state": job.state, "download_urls": []}
            if job.state == "failed":
                body["error_reason"] = job.error_reason
            if job.state == "completed":
                ttl = -60.0 if job.expired_reads > 0 or self.settings.url_ttl_s < 0 else self.settings.url_ttl_s
                job.expired_reads = max(0, job.expired_reads - 1)
                body["download_urls"] = [self._sign(base_url, job, i, ttl) for i in range(len(job.files))]
        return 200, body, {}

    def download(self, path: str, query: dict[str, list[str]], carries_key: bool) -> tuple[int, bytes, str]:
        """``(status, body, content type)`` of a pre-signed download URL."""
        name = path.removeprefix(DOWNLOAD_PREFIX)
        job_id, _, part = name.partition("/")
        expires = (query.get("X-Amz-Expires") or [""])[0]
        signature = (query.get("X-Amz-Signature") or [""])[0]
        xml = "application/xml"
        if carries_key:
            return 400, TWO_AUTHS, xml
        with self._lock:
            job = self.jobs.get(job_id)
            index = part.removesuffix(".csv.gz")
            if job is None or not index.isdigit() or int(index) >= len(job.files):
                return 404, b"<Error><Code>NoSuchKey</Code></Error>", xml
            if not hmac.compare_digest(signature, self._signature(job.id, int(index), expires)):
                return 403, b"<Error><Code>SignatureDoesNotMatch</Code></Error>", xml
            if not expires.isdigit() or int(expires) < time.time():
                return 403, EXPIRED_BODY, xml
            return 200, job.files[int(index)], "application/gzip"

    # -- internals --------------------------------------------------------------------------
    def _advance(self) -> None:
        """Move jobs on by the wall clock: processing once read, done after ``delay_s``."""
        now = time.monotonic()
        for job in self.jobs.values():
            if job.state not in ("created", "processing"):
                continue
            if now - job.created_s < self.settings.delay_s:
                job.state = "processing"
                continue
            if job.fail:
                job.state, job.error_reason = "failed", "Query timed out while generating the usage export."
                continue
            org = self.state.org(job.org_id)
            rows = usage_rows(self.state, org, job.start_ms, job.end_ms) if org else []
            parts = max(1, min(self.settings.files, len(rows)))
            job.files = [gzipped_csv(rows[i::parts]) for i in range(parts)]
            job.rows, job.state = len(rows), "completed"

    def _signature(self, job_id: str, index: int, expires: str) -> str:
        return hmac.new(self._secret, f"{job_id}/{index}/{expires}".encode(), hashlib.sha256).hexdigest()

    def _sign(self, base_url: str, job: ExportJob, index: int, ttl: float) -> str:
        expires = str(int(time.time() + ttl))
        query = urlencode({"X-Amz-Expires": expires, "X-Amz-Signature": self._signature(job.id, index, expires)})
        return f"{base_url}{DOWNLOAD_PREFIX}{job.id}/{index}.csv.gz?{query}"


def _retry(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, int(seconds + 0.999)))}


def _limited(calls: dict[str, deque[float]], org_id: str, limit: int, period: float) -> float | None:
    """Record one call; the seconds to wait when ``limit`` calls were made within ``period``."""
    if limit <= 0:
        return None
    now = time.monotonic()
    recent = calls.setdefault(org_id, deque())
    while recent and now - recent[0] >= period:
        recent.popleft()
    if len(recent) >= limit:
        return period - (now - recent[0])
    recent.append(now)
    return None


# -- handlers of the route table -----------------------------------------------------------------
def handle_create(exports: UsageExports, req: Request) -> Response:
    import json

    from .routes import Response, error

    org = exports.state.org(req.params["org_id"])
    if org is None:
        return error(404, "Organization not found.")
    try:
        body = json.loads(req.body or b"null")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return error(400, "Unexpected request body provided.")
    status, payload, headers = exports.create(org.id, body, _base_url(req))
    return Response(status, payload, headers=headers)


def handle_status(exports: UsageExports, req: Request) -> Response:
    from .routes import Response, error

    org = exports.state.org(req.params["org_id"])
    if org is None:
        return error(404, "Organization not found.")
    status, payload, headers = exports.status(org.id, req.params["usage_export_job_id"], _base_url(req))
    return Response(status, payload, headers=headers)


def _base_url(req: Request) -> str:
    """Where this emulator was reached: the download URLs point back at it."""
    return f"http://{req.headers.get('Host') or '127.0.0.1'}"


def truth(exports: UsageExports, org_id: str, start: str, end: str) -> list[dict[str, Any]]:
    """What an export of ``[start, end]`` for ``org_id`` holds right now (the control API's truth)."""
    org = exports.state.org(org_id)
    if org is None:
        raise KeyError(f"unknown org {org_id}")
    return usage_rows(exports.state, org, parse_time(start), parse_time(end))
