"""How a fired fault changes an answer: the error it short-circuits to, or the successful body it alters."""

from __future__ import annotations

from typing import Any

from .faults import Fired
from .routes import Response, error


def fault_response(f: Fired, limit_headers: dict[str, str]) -> Response:
    if f.rule.kind == "reset":
        return Response(0, None)  # status 0: no answer, the connection is reset
    if f.rule.kind == "rate_limit":
        headers = {**limit_headers, "Retry-After": str(f.rule.retry_after)}
        return Response(429, {"message": "Rate limit exceeded."}, headers=headers)
    if f.rule.kind == "child_404":
        return error(404, "Not found.")
    return error(f.status, "Internal server error." if f.status == 500 else "Service unavailable.")


def apply_body_fault(f: Fired, response: Response, token: str | None) -> bool:
    """Apply a fault that alters a successful body. Returns whether it changed anything."""
    kind, body = f.rule.kind, response.body
    if kind == "slow":
        return True  # applied while writing
    if response.status != 200:
        return False
    if kind == "truncate":
        return True  # applied while writing
    if kind == "drift":
        return _drift(f.rule.add or {}, f.rule.retype or {}, body)
    if not isinstance(body, dict) or "next_page_token" not in body:
        return False
    if kind == "repeat_token" and body["next_page_token"] is not None:
        body["next_page_token"] = token
        return True
    if kind == "drop_token" and (f.rule.when == "any" or body["next_page_token"] is None):
        del body["next_page_token"]
        return True
    return False


_CASTS = {"str": str, "int": int, "float": float, "bool": bool}


def _drift(add: dict[str, Any], retype: dict[str, str], body: Any) -> bool:
    """Schema drift: new fields and changed types on every record of a body."""
    records = body.get("items", [body]) if isinstance(body, dict) else body if isinstance(body, list) else []
    for record in records:
        if not isinstance(record, dict):
            continue
        record.update(add)
        for name, kind in retype.items():
            if record.get(name) is not None:
                record[name] = _CASTS[kind](record[name])
    return bool(records)
