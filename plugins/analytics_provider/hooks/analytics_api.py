"""The hook owns the Airflow connection: base URL, API key, where the key goes, retries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

from airflow.sdk import BaseHook

from analytics_provider.config.model import ClientSpec, ErrorHandlerSpec
from analytics_provider.exceptions import AnalyticsApiError, AnalyticsAuthError
from analytics_provider.get_provider_info import CONN_TYPE

if TYPE_CHECKING:  # requests and dlt are imported when a task runs, not when a DAG file is parsed
    import requests

DEFAULT_TIMEOUT = (10.0, 60.0)  # connect, read (seconds)
ApiVersion = Literal["v2", "v3"]
API_VERSIONS = ("auto", "v3", "v2")
CLOUD_HOSTS = ("circleci.com",)
"""Hosts of CircleCI's cloud, which serves API v3; CircleCI Server (any other host) serves v2 only."""


def is_v3_path(path: str) -> bool:
    return "/v3/" in path.split("?", 1)[0]


def api_version(conn_id: str, extras: dict[str, Any], base_url: str) -> ApiVersion:
    """Extra `api_version`: `v3`, `v2`, or `auto` (the default): v3 on CircleCI's cloud host,
    v2 elsewhere (CircleCI Server has no v3; so has the emulator unless the extra says `v3`)."""
    value = str(_extra(extras, "api_version") or "auto").strip().lower()
    if value not in API_VERSIONS:
        raise AnalyticsApiError(
            f"Airflow connection `{conn_id}`: extra `api_version` must be one of {', '.join(API_VERSIONS)}, "
            f"got `{value}` (`v2` for CircleCI Server, which has no API v3)"
        )
    if value == "auto":
        host = (urlsplit(base_url).hostname or "").lower()
        return "v3" if any(host == h or host.endswith("." + h) for h in CLOUD_HOSTS) else "v2"
    return "v3" if value == "v3" else "v2"


@dataclass(frozen=True)
class ApiSettings:
    """What a run needs from the connection. `api_key` is kept out of `repr`."""

    conn_id: str
    base_url: str
    api_key: str = field(repr=False)
    auth_name: str = "api_key"
    auth_location: str = "header"
    org_slugs: tuple[str, ...] = ()
    api_version: ApiVersion = "v2"
    """`v3`: resources with an `api_v3` variant read CircleCI's API v3 (Bearer auth); `v2`: v2/v1.1 only."""

    def key_sent_as(self, path: str = "") -> str:
        """How the key travels on a request to `path`, for error messages (never the key)."""
        if is_v3_path(path):
            return "header `Authorization: Bearer`"
        return f"{self.auth_location} `{self.auth_name}`"

    def key_refused(self, what: str, status: int, request: str) -> str:
        """The one wording of a 401/403: who asked, what the API answered, which connection to fix."""
        return (
            f"{what}: HTTP {status} for {request}: the API refused the key of Airflow connection "
            f"`{self.conn_id}`. Fix the connection's API key (sent as {self.key_sent_as(request)}); "
            "retrying will not help."
        )

    def redact(self, text: str) -> str:
        """`text` with every occurrence of the key (as is, or URL-encoded) replaced by `***`."""
        if not self.api_key:
            return text
        for form in {self.api_key, quote(self.api_key, safe=""), quote_plus(self.api_key)}:
            text = text.replace(form, "***")
        return text


def _extra(extras: dict[str, Any], name: str) -> Any:
    """An extra field as the UI stores it (`name`) or in the older prefixed form."""
    value = extras.get(name)
    if value in (None, ""):
        value = extras.get(f"extra__{CONN_TYPE}__{name}")
    return None if value == "" else value


MASKED = "***"
"""What Airflow's forms show, and a form saves, for an extra whose name looks secret."""


def key_name(conn_id: str, extras: dict[str, Any], default: str = "api_key") -> str:
    """The header (or query parameter) that carries the key: extra `key_name`, else the older
    `auth_header`, else `default` (the spec's `client.auth.name`).

    `auth_header` is masked by Airflow (its name is in `DEFAULT_SENSITIVE_FIELDS`): the form showed
    it as `***` and saved `***`. Such a value is refused here, naming the field to fix, instead of
    sending a header named `***` and failing every request with 401."""
    for name in ("key_name", "auth_header"):
        value = _extra(extras, name)
        if value is None:
            continue
        value = str(value).strip()
        if value == MASKED:
            raise AnalyticsApiError(
                f"Airflow connection `{conn_id}`: extra `{name}` is `***`, a value Airflow's form masked "
                "and saved. Set the connection's `API key name` (extra `key_name`) to the header that "
                "carries the key: `Circle-Token` for the real service, `api_key` for the emulator."
            )
        if value:
            return value
    return default


class AnalyticsApiHook(BaseHook):
    """Connects to the analytics API with an API key.

    The connection's host is the base URL (`https://circleci.com/api`, or the emulator's
    `http://127.0.0.1:8089`; unset: the spec's `client.base_url`), its password the API key.
    Extras: `key_name` (the real service reads `Circle-Token`; the older `auth_header` is still
    read; unset: the spec's `client.auth.name`, `api_key`), `auth_location` (`header` or `query`;
    unset: the spec's), `org_slugs` (comma-separated; empty means every org of the key),
    `api_version` (`auto`, `v3` or `v2`; see `api_version()`).

    :param analytics_conn_id: the Airflow connection id.
    :param client: the spec's `client` block (the shipped spec's by default).
    """

    conn_name_attr = "analytics_conn_id"
    default_conn_name = "analytics_api_default"
    conn_type = CONN_TYPE
    hook_name = "Analytics API"

    def __init__(
        self, analytics_conn_id: str = default_conn_name, client: ClientSpec | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.analytics_conn_id = analytics_conn_id
        self._client = client
        self._settings: ApiSettings | None = None

    @property
    def client_spec(self) -> ClientSpec:
        """The spec's `client` block (the shipped spec's unless given): the defaults the connection
        overrides (`base_url` for an empty host, `auth.name` and `auth.location` under the extras)."""
        if self._client is None:
            from analytics_provider.config.loader import load_spec

            self._client = load_spec().client
        return self._client

    def get_settings(self) -> ApiSettings:
        if self._settings is None:
            conn = self.get_connection(self.analytics_conn_id)
            client = self.client_spec
            host = (conn.host or "").strip() or client.base_url.strip()
            if not host:
                raise AnalyticsApiError(
                    f"Airflow connection `{self.analytics_conn_id}` has no host and the spec no `client.base_url`: "
                    "set the connection's host to the API's base URL, e.g. https://circleci.com/api"
                )
            if "://" not in host:
                host = f"{conn.schema or 'https'}://{host}"
                if conn.port:
                    host = f"{host}:{conn.port}"
            extras = conn.extra_dejson or {}
            location = _extra(extras, "auth_location") or client.auth.location
            if location not in ("header", "query"):
                raise AnalyticsApiError(
                    f"Airflow connection `{self.analytics_conn_id}`: extra `auth_location` must be "
                    f"`header` or `query`, got `{location}`"
                )
            slugs = _extra(extras, "org_slugs") or ""
            if isinstance(slugs, str):
                slugs = [s.strip() for s in slugs.split(",")]
            self._settings = ApiSettings(
                conn_id=self.analytics_conn_id,
                base_url=host.rstrip("/"),
                api_key=conn.password or "",
                auth_name=key_name(self.analytics_conn_id, extras, client.auth.name),
                auth_location=location,
                org_slugs=tuple(s for s in slugs if s),
                api_version=api_version(self.analytics_conn_id, extras, host),
            )
        return self._settings

    def get_conn(self, error_handler: ErrorHandlerSpec | None = None) -> requests.Session:
        """A session that sends the key, retries per `error_handler` (429 honours Retry-After) and keeps
        as many requests in flight as the rate limit leaves room for (throttle.py)."""
        from dlt.sources.helpers.requests import Client  # run time only: dlt is heavy to import

        from analytics_provider.dlt_runtime import parallel_requests
        from analytics_provider.transport.adapter import redacting_adapter
        from analytics_provider.transport.errors import retry_bad_body
        from analytics_provider.transport.throttle import ConcurrencyGate

        eh = error_handler or ErrorHandlerSpec()
        settings = self.get_settings()
        client = Client(
            request_timeout=DEFAULT_TIMEOUT,
            raise_for_status=False,
            status_codes=eh.retry_on_status_codes,
            request_max_attempts=eh.max_attempts,
            request_backoff_factor=eh.backoff_factor,
            request_max_retry_delay=eh.max_retry_delay,
            retry_condition=retry_bad_body,
        )
        session = client.session
        gate = ConcurrencyGate(*parallel_requests(), max_wait=eh.max_retry_delay)
        adapter = redacting_adapter(settings.redact, gate)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        if settings.api_key:
            if settings.auth_location == "header":
                session.headers[settings.auth_name] = settings.api_key
            else:
                session.params = {settings.auth_name: settings.api_key}
            session.auth = V3BearerAuth(settings)
        pin_environment(session, settings.base_url)
        return session

    def check_response(self, response: requests.Response, what: str) -> None:
        """Raise a key-free error for a failed response; 401/403 name the connection to fix."""
        if response.ok:
            return
        settings = self.get_settings()
        url = settings.redact(response.url)
        if response.status_code in (401, 403):
            raise AnalyticsAuthError(
                settings.key_refused(what, response.status_code, f"GET {url}"), status=response.status_code
            )
        body = settings.redact(response.text[:300])
        raise AnalyticsApiError(
            f"{what}: HTTP {response.status_code} from GET {url}: {body}", status=response.status_code
        )

    def test_connection(self) -> tuple[bool, str]:
        """Call `/v2/me` once; report who the key belongs to or why it failed."""
        import requests

        try:
            settings = self.get_settings()
            session = self.get_conn(ErrorHandlerSpec(retry_on_status_codes=(), max_retries=0))
            response = session.get(f"{settings.base_url}/v2/me", headers={"Accept": "application/json"})
            self.check_response(response, f"Connection test of `{settings.conn_id}`")
            login = response.json().get("login", "?")
            return True, f"Connected to {settings.base_url} as `{login}`."
        except AnalyticsApiError as exc:
            return False, str(exc)
        except requests.RequestException as exc:
            settings = self.get_settings()
            return False, settings.redact(
                f"Connection test of `{settings.conn_id}`: cannot reach {settings.base_url}: {type(exc).__name__}"
            )
        except ValueError:
            return False, f"Connection test of `{self.analytics_conn_id}`: /v2/me did not answer JSON."


def pin_environment(session: requests.Session, base_url: str) -> None:
    """Read the proxy and CA-bundle environment once, for the one host this session talks to.

    dlt's client merges the environment into every request, and with `trust_env` requests then
    scans all of `os.environ` twice per request for proxy settings (a cost per request that
    grows with the task's environment; BENCHMARKS.md, session 2). The values are the same
    for every request to `base_url`: resolve them here (HTTP(S)_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE,
    CURL_CA_BUNDLE are honoured as before) and stop the per-request lookups."""
    import os

    from requests.utils import get_environ_proxies

    session.proxies.update(get_environ_proxies(base_url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle and session.verify is True:
        session.verify = bundle
    session.trust_env = False


class V3BearerAuth:
    """API v3 takes the key only as `Authorization: Bearer` (a key in the query is rejected): on a
    `/v3/` request the connection's header or query parameter is replaced by it. Other requests
    (v2, v1.1) keep the connection's own way."""

    def __init__(self, settings: ApiSettings) -> None:
        self._settings = settings

    def __call__(self, request: Any) -> Any:
        if not is_v3_path(urlsplit(request.url).path):
            return request
        settings = self._settings
        request.headers.pop(settings.auth_name, None)
        if settings.auth_location == "query":
            parts = urlsplit(request.url)
            kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != settings.auth_name]
            request.url = urlunsplit(parts._replace(query=urlencode(kept)))
        request.headers["Authorization"] = f"Bearer {settings.api_key}"
        return request

    def __repr__(self) -> str:  # never the key
        return "V3BearerAuth(***)"
