"""Load and validate a resource spec YAML into the typed `Spec`.

Validation is whole and strict: unknown keys, placeholders with no source, unknown paginator
types, parents that do not exist and cycles all fail here, with the file and the key path named.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from analytics_provider.config.dags import SCHEDULE_PRESETS, parse_dags
from analytics_provider.config.model import (
    AuthSpec,
    ClientSpec,
    ErrorHandlerSpec,
    ResourceSpec,
    Spec,
)
from analytics_provider.config.resources import RESOURCE_KEYS, check_graph, parse_paginator, parse_resource
from analytics_provider.config.validation import Ctx, parse_duration
from analytics_provider.exceptions import SpecError

DEFAULT_SPEC = Path(__file__).with_name("analytics_api.yaml")

_TOP_KEYS = {"version", "client", "resource_defaults", "resources", "dags"}
_CLIENT_KEYS = {"base_url", "headers", "auth", "paginator", "error_handler"}
_AUTH_KEYS = {"type", "name", "location"}
_ERROR_HANDLER_KEYS = {"retry_on_status_codes", "max_retries", "backoff_factor", "max_retry_delay"}


@lru_cache(maxsize=16)
def load_spec(path: str | Path | None = None) -> Spec:
    """Load, validate and cache the spec at `path` (the shipped spec by default)."""
    file = Path(path) if path else DEFAULT_SPEC
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SpecError(str(file), "<file>", f"cannot read the spec: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise SpecError(str(file), "<file>", f"not valid YAML: {exc}") from None
    return parse_spec(raw, source=str(file))


def parse_spec(raw: Any, source: str = "<spec>") -> Spec:
    """Validate a spec given as parsed YAML. The input is not modified."""
    ctx = Ctx(source)
    top = ctx.mapping(copy.deepcopy(raw), "<root>", _TOP_KEYS, {"client", "resources"})
    if top.get("version", 1) != 1:
        raise ctx.fail("version", f"unsupported version {top['version']!r}; this provider reads version 1")
    client = _client(ctx, top["client"])
    defaults = ctx.mapping(top.get("resource_defaults") or {}, "resource_defaults", RESOURCE_KEYS - {"name"})
    items = ctx.typed(top["resources"], "resources", list, "a list of resources")
    resources: dict[str, ResourceSpec] = {}
    for i, item in enumerate(items):
        merged = {**defaults, **ctx.mapping(item, f"resources[{i}]", RESOURCE_KEYS, {"name", "endpoint"})}
        resource = parse_resource(ctx, merged, f"resources[{i}]", client)
        if resource.name in resources:
            raise ctx.fail(f"resources[{i}].name", f"duplicate resource name `{resource.name}`")
        resources[resource.name] = resource
    check_graph(ctx, resources)
    dags = parse_dags(ctx, top.get("dags") or [], resources)
    return Spec(source_file=Path(source), client=client, resources=resources, dags=dags)


def _client(ctx: Ctx, raw: Any) -> ClientSpec:
    c = ctx.mapping(raw, "client", _CLIENT_KEYS, {"base_url"})
    auth = ctx.mapping(c.get("auth") or {}, "client.auth", _AUTH_KEYS)
    if auth.get("type", "api_key") != "api_key":
        raise ctx.fail("client.auth.type", f"unknown auth type `{auth['type']}`; allowed: `api_key`")
    location = auth.get("location", "header")
    if location not in ("header", "query"):
        raise ctx.fail("client.auth.location", f"expected `header` or `query`, got `{location}`")
    eh = ctx.mapping(c.get("error_handler") or {}, "client.error_handler", _ERROR_HANDLER_KEYS)
    codes = eh.get("retry_on_status_codes", [429])
    if not isinstance(codes, list) or not all(isinstance(x, int) and 400 <= x < 600 for x in codes):
        raise ctx.fail("client.error_handler.retry_on_status_codes", f"expected HTTP status codes, got {codes!r}")
    retries = eh.get("max_retries", 3)
    if not isinstance(retries, int) or isinstance(retries, bool) or not 0 <= retries <= 20:
        raise ctx.fail("client.error_handler.max_retries", f"expected an integer 0..20, got {retries!r}")
    factor = ctx.typed(eh.get("backoff_factor", 2), "client.error_handler.backoff_factor", (int, float), "a number")
    max_delay = ctx.typed(
        eh.get("max_retry_delay", 60), "client.error_handler.max_retry_delay", (int, float), "seconds"
    )
    headers = ctx.typed(c.get("headers") or {}, "client.headers", dict, "a mapping of header names to values")
    return ClientSpec(
        base_url=ctx.typed(c["base_url"], "client.base_url", str, "a URL"),
        headers={str(k): str(v) for k, v in headers.items()},
        auth=AuthSpec(name=str(auth.get("name", "api_key")), location=location),
        paginator=parse_paginator(ctx, c.get("paginator") or {"type": "cursor"}, "client.paginator"),
        error_handler=ErrorHandlerSpec(tuple(codes), retries, float(factor), float(max_delay)),
    )


__all__ = ["DEFAULT_SPEC", "SCHEDULE_PRESETS", "load_spec", "parse_duration", "parse_spec"]
