"""The control API under ``/_emulator/`` (no auth, not counted in stats, never faulted).

=======  =============================  ==========================================================
GET      /_emulator/health              ``{"status": "ok", "now": ..., ...}``
GET      /_emulator/config              data knobs (seed, days, scale, start, now) and live knobs
POST     /_emulator/settings            ``{"latency_ms": 20, "rate_limit": 50, "rate_limit_counts": false}`` (any key)
GET      /_emulator/stats               ``{"total", "routes": {"GET /v2/x": 12}, "by_status", "faults", "timeline"}``
POST     /_emulator/stats/reset         zero the stats
GET      /_emulator/truth/<resource>    ``{"resource", "now", "count", "rows"}``; ``?since=&until=``
GET      /_emulator/faults              the fault config in force
POST     /_emulator/faults              set it (``{}`` clears; see :mod:`.faults`)
POST     /_emulator/mutate              ``{"resource": "pipelines", "count": 3}``
POST     /_emulator/advance             ``{"minutes": 60}``
POST     /_emulator/finish              finish open work, approve approvals, re-run one failure
POST     /_emulator/hold                ``{"count": 8}``: old approvals wait for weeks (see :mod:`.changes`)
POST     /_emulator/changes             ``{"round": 1}``: one round of the change model (:mod:`.changes`)
GET      /_emulator/usage_export        usage export settings and jobs (see :mod:`.usage_export`)
POST     /_emulator/usage_export        ``{"delay_s": 5, "fail_next": 1, ...}`` (any of its settings)
GET      /_emulator/usage_export/truth  ``?org_id=&start=&end=``: the rows an export would hold
=======  =============================  ==========================================================
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from . import changes, usage_export
from .model import fmt_ms
from .routes import Request, Response, error
from .truth import RESOURCES

if TYPE_CHECKING:
    from .server import EmulatorApp


def handle(app: EmulatorApp, req: Request) -> Response:
    try:
        return _dispatch(app, req)
    except (ValueError, TypeError, KeyError) as exc:
        return error(400, f"{type(exc).__name__}: {exc}")


def _dispatch(app: EmulatorApp, req: Request) -> Response:
    name = req.path.removeprefix("/_emulator").strip("/")
    state = app.state
    if req.method == "GET":
        if name == "health":
            return Response(200, {"status": "ok", "now": fmt_ms(state.now_ms), "segments_built": len(state.segments)})
        if name == "config":
            return Response(200, _config(app))
        if name == "stats":
            return Response(200, app.stats.snapshot())
        if name == "faults":
            return Response(200, app.faults.config.to_json())
        if name.startswith("usage_export"):
            return usage_control(app, name, req)
        if name.startswith("truth/"):
            resource = name.removeprefix("truth/")
            if resource not in RESOURCES:
                return error(404, f"Unknown resource `{resource}`; known: {', '.join(RESOURCES)}")
            rows = state.truth(resource, req.arg("since"), req.arg("until"))
            return Response(200, {"resource": resource, "now": fmt_ms(state.now_ms), "count": len(rows), "rows": rows})
    elif req.method == "POST":
        body = _json_body(req)
        if name == "stats/reset":
            app.stats.reset()
            return Response(200, {"status": "reset"})
        if name == "faults":
            return Response(200, app.set_faults(body))
        if name == "settings":
            return Response(200, _settings(app, body))
        if name == "mutate":
            return Response(200, state.mutate(str(body["resource"]), int(body.get("count", 1))))
        if name == "advance":
            return Response(200, state.advance(float(body["minutes"])))
        if name == "finish":
            return Response(200, state.finish())
        if name in ("hold", "changes"):
            return Response(200, changes.control(state, name, body))
        if name == "usage_export":
            return Response(200, app.api.usage.configure(body))
    return error(404, f"No control endpoint {req.method} {req.path}")


def usage_control(app: EmulatorApp, name: str, req: Request) -> Response:
    """GET usage_export: settings and jobs; GET usage_export/truth?org_id=&start=&end=: rows."""
    if name == "usage_export":
        return Response(200, app.api.usage.snapshot())
    if name == "usage_export/truth":
        args = {k: req.arg(k) or "" for k in ("org_id", "start", "end")}
        rows = usage_export.truth(app.api.usage, **args)
        return Response(200, {"resource": "usage", "count": len(rows), "rows": rows})
    return error(404, f"No control endpoint {req.method} {req.path}")


def _json_body(req: Request) -> dict[str, Any]:
    if not req.body.strip():
        return {}
    body = json.loads(req.body)
    if not isinstance(body, dict):
        raise ValueError("the request body must be a JSON object")
    return body


def _settings(app: EmulatorApp, body: dict[str, Any]) -> dict[str, Any]:
    unknown = set(body) - {"latency_ms", "rate_limit", "rate_limit_counts"}
    if unknown:
        raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
    if "latency_ms" in body:
        app.latency_ms = max(0.0, float(body["latency_ms"]))
    if "rate_limit" in body or "rate_limit_counts" in body:
        counts = bool(body.get("rate_limit_counts", app.limiter.counts))
        app.limiter.configure(float(body.get("rate_limit", app.limiter.rate)), counts)
    return {"latency_ms": app.latency_ms, "rate_limit": app.limiter.rate, "rate_limit_counts": app.limiter.counts}


def _config(app: EmulatorApp) -> dict[str, Any]:
    state, config = app.state, app.config
    return {
        "seed": state.seed,
        "days": state.days,
        "scale": state.scale,
        "start": fmt_ms(state.start_ms),
        "initial_now": fmt_ms(state.now0_ms),
        "now": fmt_ms(state.now_ms),
        "auth_header": config.auth_header,
        "latency_ms": app.latency_ms,
        "rate_limit": app.limiter.rate,
        "faults": app.faults.config.to_json(),
    }
