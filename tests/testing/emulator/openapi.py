"""JSON-Schema validators built from the emulator's trimmed copy of CircleCI's OpenAPI v2 file.

OpenAPI 3.0 is not plain JSON Schema: ``x-nullable``/``nullable`` become ``null`` in the type,
``$ref``s into ``#/components`` are inlined. Where the real service is known to differ from its
own description, :data:`DEVIATIONS` says so; nothing else is relaxed. With ``strict``, every
object also rejects properties the description does not declare (catches typos in the
emulator).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft7Validator, FormatChecker

#: (path, JSON pointer inside the 200 schema, property) the real service returns as null.
DEVIATIONS = [
    # Approval jobs and jobs that have not started: `"started_at": null` (api.md).
    ("/workflow/{id}/job", "properties/items/items", "started_at"),
]


@cache
def document() -> dict[str, Any]:
    ref = resources.files("analytics_provider.testing.emulator") / "schemas" / "openapi-v2-served.json"
    return json.loads(ref.read_text(encoding="utf-8"))


def served_paths() -> list[str]:
    return sorted(document()["paths"])


@cache
def validator(path: str, strict: bool = True) -> Draft7Validator:
    """Validator of the 200 response of ``GET {path}`` (an OpenAPI path, e.g. ``/pipeline``)."""
    doc = document()
    schema = doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    schema = _convert(schema, doc, strict)
    for dev_path, pointer, prop in DEVIATIONS:
        if dev_path == path:
            node = schema
            for part in pointer.split("/"):
                node = node[part]
            node["properties"][prop] = _nullable(node["properties"][prop])
    return Draft7Validator(schema, format_checker=FormatChecker(["uuid"]))


def _convert(node: Any, doc: dict[str, Any], strict: bool) -> Any:
    if isinstance(node, list):
        return [_convert(n, doc, strict) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        _, _, kind, name = node["$ref"].split("/")
        return _convert(doc["components"][kind][name], doc, strict)
    out = {k: _convert(v, doc, strict) for k, v in node.items() if k not in ("x-nullable", "nullable", "example")}
    if "properties" in node:
        out["properties"] = {k: _convert(v, doc, strict) for k, v in node["properties"].items()}
        if strict and "additionalProperties" not in node:
            out["additionalProperties"] = False
    if node.get("x-nullable") or node.get("nullable"):
        out = _nullable(out)
    return out


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    out = dict(schema)
    if isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    return out
